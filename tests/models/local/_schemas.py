"""Twenty output types of the kind signatures declare, each with a question for the local model."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Color(StrEnum):
    red = "red"
    green = "green"
    blue = "blue"


class Answer(BaseModel):
    answer: str


class Count(BaseModel):
    count: int


class Temperature(BaseModel):
    celsius: float


class Verdict(BaseModel):
    is_true: bool


class Colors(BaseModel):
    colors: list[str]


class Sentiment(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]


class Address(BaseModel):
    city: str
    country: str


class Person(BaseModel):
    name: str
    age: int
    address: Address


class MaybeNickname(BaseModel):
    name: str
    nickname: str | None = None


class Favourite(BaseModel):
    color: Color


class Scores(BaseModel):
    scores: list[int]


class Bounded(BaseModel):
    rating: int = Field(ge=1, le=5)
    reason: str = Field(max_length=60)


class Tags(BaseModel):
    title: str
    tags: list[str] = Field(min_length=1, max_length=3)


class Step(BaseModel):
    order: int
    action: str


class Recipe(BaseModel):
    dish: str
    steps: list[Step]


class Measurements(BaseModel):
    values: list[float]
    unit: Literal["cm", "m", "km"]


class Flags(BaseModel):
    done: bool
    urgent: bool
    notes: str | None = None


class Capital(BaseModel):
    country: str
    capital: str
    population_millions: float


class Coded(BaseModel):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    name: str


class Choice(BaseModel):
    pick: Literal[1, 2, 3]
    confidence: float = Field(ge=0.0, le=1.0)


class Mixed(BaseModel):
    label: str | int
    items: list[Address] = Field(max_length=2)


#: (output model, question)
CASES: list[tuple[type[BaseModel], str]] = [
    (Answer, "What is the capital of France?"),
    (Count, "How many legs does a spider have?"),
    (Temperature, "At what temperature does water boil in Celsius?"),
    (Verdict, "Is the sky blue?"),
    (Colors, "Name three colors."),
    (Sentiment, "What is the sentiment of: 'I love this movie'?"),
    (Address, "Where is the Eiffel Tower?"),
    (Person, "Describe a person called Ana, 30 years old, living in Lisbon, Portugal."),
    (MaybeNickname, "Robert is often called Bob. Give his name and nickname."),
    (Favourite, "What color is grass?"),
    (Scores, "List the numbers one, two and three."),
    (Bounded, "Rate the movie Titanic from 1 to 5 and say why."),
    (Tags, "Give a title and tags for an article about cooking pasta."),
    (Recipe, "How do you make tea?"),
    (Measurements, "A table is 100 cm long and 50 cm wide."),
    (Flags, "The task is finished and it was not urgent."),
    (Capital, "What is the capital of Japan and its population?"),
    (Coded, "What is the three-letter currency code of the US dollar?"),
    (Choice, "Which is largest: 1) a mouse, 2) a cat, 3) an elephant?"),
    (Mixed, "Label this list of places: Paris in France and Rome in Italy."),
]
