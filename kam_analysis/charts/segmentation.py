"""Charts for the segmentation phase."""
from __future__ import annotations

__all__: list[str] = []
