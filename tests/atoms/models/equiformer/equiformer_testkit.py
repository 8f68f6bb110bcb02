"""Irreps of the equivariance tests of Equiformer's parts, and e3nn's view of a module."""

SE3 = ("4x0e+3x1e+2x2e", "1x0e+1x1e+1x2e")
E3 = ("4x0e+2x0o+3x1e+2x1o+2x2e+1x2o", "1x0e+1x1o+1x2e")


def on_e3nn(module, layout_in, layout_out):
    """``module`` seen through e3nn's mul_ir layout (for e3nn's checker)."""
    return lambda x: layout_out.to_e3nn(module(layout_in.from_e3nn(x)))
