"""Golden fixed-point models: pure numpy functions with the RTL's integer semantics (widths, rounding, saturation)."""
from .projection import ProjectionSpec, project, projection_codes, projection_matrix, resolve_projection
from .quant import requantize

__all__ = ["ProjectionSpec", "project", "projection_codes", "projection_matrix", "resolve_projection", "requantize"]
