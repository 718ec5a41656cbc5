"""How large an architecture from outside (a genotype file, an arch string) may be: checked from
the genotype alone, before anything is allocated. Torch-free, because ``--help`` shows them.

A genotype file is input like any other: a stage with 2,000,000 channels once reached the
allocator ("tried to allocate 96000000000000 bytes"), and a smaller absurd value would allocate
tens of GB first. The limits are generous, 10x EfficientNet-B7, the largest published network
the zoo reproduces (its counts are checked against the cost model in tests/test_bad_input.py).
"""

EFFICIENTNET_B7_PARAMS = 66_347_960  # analytic = fvcore count of the zoo's efficientnet_b7
EFFICIENTNET_B7_FLOPS = 38_449_437_600  # fvcore convention, 600 px
DEFAULT_MAX_PARAMS = 10 * EFFICIENTNET_B7_PARAMS
MAX_FLOPS = 10 * EFFICIENTNET_B7_FLOPS
