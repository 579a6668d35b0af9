"""The parameter file: schema, loading, ``--set`` overrides and paths.

A consultant writes one YAML file per client (``params/<client>.yaml``). It is
validated against :class:`Params` before anything runs: an unknown or misspelt key
is an error that suggests the nearest valid key, and every value is checked for type
and range. Relative paths in the file are resolved against the file's own folder.

Thresholds, weights, targets and benchmarks live here (and in ``templates/*.yaml``),
never in code paths, so a consultant can change them per client.


The package splits into :mod:`.resources` (where templates and notebooks live),
:mod:`.schema` (one model per section) and :mod:`.loading` (YAML, overrides, errors); every
name is re-exported here, so callers import from ``kam_analysis.config``.
"""
from __future__ import annotations

from .resources import (  # noqa: F401  (re-exported)
    _resource_root,
    FILL_IN,
    SHARE_DIR_NAME,
    REPO_ROOT,
    TEMPLATES_DIR,
    SOURCE_CHECKOUT,
)
from .schema import (  # noqa: F401  (re-exported)
    _Section,
    FileSpec,
    WarehouseSource,
    WAREHOUSE_BACKENDS,
    DemoSpec,
    DataSection,
    ClientSection,
    EngagementSection,
    AnalysisSection,
    RAGThresholds,
    MinimumSizes,
    ThresholdSection,
    BenchmarkSection,
    QuadrantNames,
    QuadrantIntents,
    Criterion,
    QuadrantOverride,
    RFMSettings,
    ClusterSettings,
    CLVSettings,
    TierNames,
    KeyAccountSizing,
    SegmentationSection,
    StrategySection,
    ReviewSection,
    BrandingSection,
    ForceRating,
    FiveForces,
    PestSection,
    MostSection,
    GapItem,
    ContextSection,
    ExecutionSection,
    OutputSection,
    Params,
    _default_selection,
    _default_strength,
    client_slug,
    ASSUMED_PROGRAMME_COSTS,
)
from .loading import (  # noqa: F401  (re-exported)
    read_yaml_mapping,
    parse_overrides,
    _text_field,
    _apply_override,
    _model_at,
    _format_validation_error,
    _resolve_paths,
    _to_fill_in,
    load_params,
)

__all__ = [
    "Params",
    "load_params",
    "parse_overrides",
    "client_slug",
    "read_yaml_mapping",
    "REPO_ROOT",
    "TEMPLATES_DIR",
    "FILL_IN",
]
