"""Charts for the assessment phase."""
from __future__ import annotations

__all__: list[str] = []
