"""Theme palettes: selection order, the Plotly template, contrast of every palette colour."""

from __future__ import annotations

import pytest

from kaizen_lab.errors import UserError
from kaizen_lab.notebook.panels import latency_figure
from kaizen_lab.notebook.theme import (
    PALETTES,
    contrast_ratio,
    current_theme,
    palette,
    set_theme,
    status_color,
)


def test_theme_comes_from_set_theme_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAIZEN_THEME", raising=False)
    assert current_theme() == "light"
    monkeypatch.setenv("KAIZEN_THEME", "dark")
    assert current_theme() == "dark" and palette() is PALETTES["dark"]
    try:
        set_theme("light")
        assert current_theme() == "light"
        assert latency_figure([1.0]).layout.template.layout.font.color == PALETTES["light"]["text"]
        with pytest.raises(UserError, match="'light', 'dark' or 'auto'"):
            set_theme("solarized")
    finally:
        set_theme("auto")
    assert current_theme() == "dark"
    assert status_color("done", "light") == PALETTES["light"]["status"]["done"]
    assert status_color("no-such-status", "light") == PALETTES["light"]["status"]["pending"]


@pytest.mark.parametrize(("theme", "backgrounds"), [("light", ("#ffffff", "#f5f5f5")),
                                                    ("dark", ("#111111", "#212121"))])
def test_every_palette_colour_reads_on_its_backgrounds(theme: str, backgrounds: tuple[str, ...]) -> None:
    p = PALETTES[theme]
    colours = [p["text"], p["muted"], *p["status"].values(), *p["kinds"].values(), *p["series"]]
    for bg in backgrounds:
        worst = min(contrast_ratio(c, bg) for c in colours)
        assert worst >= 4.5, (theme, bg, worst)  # AA for text; graphics need only 3:1
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
