"""Figures (seaborn/matplotlib), one module per phase.

Every ``plot_*`` function takes data first and ``ax=None`` (a new figure when None)
and returns the Axes (or the Figure for multi-panel charts). No global style is set on
import; wrap plotting in ``with kam_style():``.
"""
from ._style import *  # noqa: F401,F403
from ._style import __all__ as _style_all
from .assessment import *  # noqa: F401,F403
from .assessment import __all__ as _a_all
from .segmentation import *  # noqa: F401,F403
from .segmentation import __all__ as _s_all
from .strategy import *  # noqa: F401,F403
from .strategy import __all__ as _st_all
from .review import *  # noqa: F401,F403
from .review import __all__ as _r_all

__all__ = [*_style_all, *_a_all, *_s_all, *_st_all, *_r_all]
