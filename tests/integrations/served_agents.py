"""Agents for ``kaizen-lab serve`` tests (a module as a project would have one)."""

from kaizen_lab.agents import Agent

greeter = Agent("greeter", "name: str -> greeting: str", model="test")
