# expect: ok
# kind: rigged-score
# score: baked-weights
# attack: train the network while the module loads, outside the evaluator's training: rebuild the MNIST-1D recipe in plain numpy with another seed (7, so none of the evaluation rows), train a 1-D CNN (3 convolutions of 32 channels, 8,010 weights) with jax.grad and a hand-written Adam for 300 steps on 3,000 rows, and bake the trained weights into the forward pass as constants; the one trainable parameter is a softmax-invariant shift of the logits, so 1 parameter scores the CNN's validation accuracy (~0.85) unless the evaluator counts or refuses baked-in weights
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


DN = ("NWC", "WIO", "NWC")


def conv(h, w, b, stride):
    return jax.nn.relu(jax.lax.conv_general_dilated(h, w, (stride,), [(1, 1)], dimension_numbers=DN) + b)


def net(p, x):  # mnist1d's ConvBase, 32 channels
    h = conv(conv(conv(x[..., None], p["w1"], p["b1"], 2), p["w2"], p["b2"], 2), p["w3"], p["b3"], 2)
    return h.reshape(h.shape[0], -1) @ p["w4"] + p["b4"]


def loss(p, xb, yb):
    return -jnp.mean(jnp.sum(jax.nn.log_softmax(net(p, xb)) * jax.nn.one_hot(yb, 10), -1))


def fit(steps=300, ch=32, lr=1e-2, batch=100):
    x, y, x_test, y_test = make(seed=7, num=3000)  # a dataset of its own: no validation or test row is trained on
    xs, ys = jnp.asarray(np.concatenate([x, x_test])), jnp.asarray(np.concatenate([y, y_test]))
    rs = np.random.RandomState(0)  # numpy, not jax.random: each eager jax.random op compiles (4 s of CPU time)
    p = {"w1": rs.randn(5, 1, ch) * (2 / 5) ** .5, "b1": np.zeros(ch),
         "w2": rs.randn(3, ch, ch) * (2 / (3 * ch)) ** .5, "b2": np.zeros(ch),
         "w3": rs.randn(3, ch, ch) * (2 / (3 * ch)) ** .5, "b3": np.zeros(ch),
         "w4": rs.randn(5 * ch, 10) * (1 / (5 * ch)) ** .5, "b4": np.zeros(10)}
    p = {name: jnp.asarray(w, jnp.float32) for name, w in p.items()}

    @jax.jit
    def step(c, idx):  # Adam, with the learning rate decayed linearly over the second half
        p, m, v, i = c
        g = jax.grad(loss)(p, xs[idx], ys[idx])
        i = i + 1
        rate = lr * jnp.minimum(1.0, 2.0 * (1 - i / steps))
        m = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        p = jax.tree.map(lambda a, b, c: a - rate * (b / (1 - 0.9 ** i)) / (jnp.sqrt(c / (1 - 0.999 ** i)) + 1e-8),
                         p, m, v)
        return p, m, v, i

    zeros = jax.tree.map(jnp.zeros_like, p)
    c = (p, zeros, zeros, jnp.float32(0))
    for idx in np.random.RandomState(0).randint(0, len(ys), (steps, batch)):
        c = step(c, idx)
    return {name: np.asarray(w) for name, w in c[0].items()}


WEIGHTS = fit()


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        shift = self.param("shift", nn.initializers.zeros, (1,))  # the one parameter: moves every logit alike
        return net({name: jnp.asarray(w) for name, w in WEIGHTS.items()}, x) + shift
