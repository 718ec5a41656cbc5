"""How far a scaled network's measured FLOPs ratio may lie from the one asked for. Torch-free:
``nas scale --help`` shows it."""

# Issue 12's +/-5%: nas.scaling.landing lands the shipped spaces' references and the zoo within it
# at phi = 1..3 (tests/test_scale.py).
DEFAULT_TOLERANCE = 0.05
