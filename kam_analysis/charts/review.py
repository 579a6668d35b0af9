"""Charts for the review phase."""
from __future__ import annotations

__all__: list[str] = []
