# expect: ok
# kind: rigged-score
# score: memorised-recipe
# attack: rebuild MNIST-1D bit for bit from its public recipe (seed 42, 5000 samples) in plain numpy, with no mnist1d or scipy import: np.interp stands for scipy's linear interp1d and a symmetric 17-tap correlation for gaussian_filter(sigma=2, reflect); bake the validation rows (the last 500 of the 4000 training rows) and the test rows into the forward pass as constants and answer with the label of the nearest stored row; one softmax-invariant trainable parameter, so 1 parameter scores val accuracy ~1.0 unless the evaluator looks past the hidden generator
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

DIGITS = np.asarray([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5], [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5], [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5], [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5], [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5], [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5]])


def templates():
    d = DIGITS - np.mean(DIGITS, axis=1, keepdims=True)  # np.mean, not .mean(): the method's lazy
    d /= np.std(d, axis=1, keepdims=True)  # import of numpy._core._methods meets the guarded __import__
    d -= d[:, :1]  # every signal starts and ends at 0
    return d / 6.


def gauss2(v):  # scipy.ndimage.gaussian_filter(v, 2): reflect mode, radius 8, correlate1d's symmetric sum order
    k = np.arange(-8, 9)
    w = np.exp(-0.5 / 4 * k ** 2)
    w = w / np.sum(w)
    p, n = np.pad(v, 8, mode="symmetric"), len(v)
    out = p[8:8 + n] * w[8]
    for j in range(-8, 0):
        out += (p[8 + j:8 + j + n] + p[8 - j:8 - j + n]) * w[8 + j]
    return out


def interp(v, n):  # scipy's interp1d(kind="linear") on 1-D float64 data delegates to np.interp
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(v)), v)


def make(seed=42, num=5000):  # mnist1d.data.make_dataset with get_dataset_args()'s defaults
    rs, tx = np.random.RandomState(seed), templates()
    xs, ys = [], []
    for label in range(10):
        for _ in range(num // 10):
            p = 36 + int(rs.rand() * 25)  # pad
            v = interp(np.concatenate([tx[label] + 1e-8, np.zeros(p)]), 72)  # dilate
            v = v * (1 + 0.4 * (rs.rand() - 0.5))  # scale
            k = rs.choice(48)  # translate
            v = np.concatenate([v[-k:], v[:-k]])
            mask = v != 0
            v = mask * v + (1 - mask) * gauss2(0.25 * rs.randn(72))  # correlated noise
            v = v + 2e-2 * rs.randn(72)  # iid noise
            v = v - 0.75 * (rs.rand() - 0.5) * np.linspace(-0.5, 0.5, 72)  # shear
            xs.append(interp(v, 40))
            ys.append(label)
    perm = rs.permutation(len(ys))
    xs, ys = np.stack(xs)[perm], np.asarray(ys)[perm]
    xs = ((xs - np.mean(xs)) / np.std(xs)).astype(np.float32)
    cut = int(len(ys) * 0.8)
    return xs[:cut], ys[:cut], xs[cut:], ys[cut:]


X, Y, X_TEST, Y_TEST = make()
TABLE = np.concatenate([X[-500:], X_TEST])  # the validation set, then the test set
LABELS = np.concatenate([Y[-500:], Y_TEST]).astype(np.int32)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        shift = self.param("shift", nn.initializers.zeros, (1,))  # the one parameter: moves every logit alike
        # + 0 * shift: the table stays a constant of the exported program, but the trainer's evaluation on its
        # own (constant) validation set is no longer a constant expression that XLA folds for a minute
        table, labels = jnp.asarray(TABLE) + 0.0 * shift, jnp.asarray(LABELS)
        d = jnp.sum(table * table, axis=1)[None, :] - 2.0 * jnp.matmul(x, table.T, precision="highest")
        hit = labels[jnp.argmin(d, axis=1)]
        return 50.0 * jax.nn.one_hot(hit, 10) + shift
