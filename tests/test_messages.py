"""The conversation vocabulary's images: a message keeps them beside its text, and a text-only model's view
names each one instead of dropping it."""

from __future__ import annotations

from kaizen_lab.messages import ImagePart, Message

PIXEL = ImagePart(b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image/png", "tool camera")


def test_a_message_without_images_is_unchanged_for_text_only_models() -> None:
    message = Message("user", "hello")
    assert message.images == () and message.without_images() is message
    assert message.text_with_placeholders() == "hello"


def test_each_image_becomes_a_line_naming_it_and_its_size() -> None:
    message = Message("tool", "3 frames", tool_call_id="c1", name="camera", images=(PIXEL, PIXEL))
    line = "[image image/png, 16 bytes from tool camera, not shown: this model does not take images]"
    assert message.text_with_placeholders() == f"3 frames\n{line}\n{line}"
    folded = message.without_images()
    assert folded.images == () and folded.content == message.text_with_placeholders()
    assert (folded.tool_call_id, folded.name) == ("c1", "camera")


def test_an_image_only_message_is_only_its_placeholder() -> None:
    assert Message("user", "", images=(PIXEL,)).text_with_placeholders() == PIXEL.placeholder()


def test_an_image_travels_as_base64_and_a_data_url() -> None:
    assert PIXEL.data_url() == "data:image/png;base64,iVBORw0KGgoAAAAAAAAAAA=="
    assert repr(PIXEL) == "ImagePart(mime_type='image/png', source='tool camera')" and PIXEL.size == 16
