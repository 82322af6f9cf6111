# expect: oom
# kind: os-boundary
# attack: grow memory gradually at module level (64 MB bytes chunks, touched) so no single allocation looks huge; the 4 GB address-space limit ends it with MemoryError -> oom
import flax.linen as nn

HOARD = []
while True:
    HOARD.append(b"\x01" * (64 << 20))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
