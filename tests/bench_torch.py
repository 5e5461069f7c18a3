#!/usr/bin/python3
"""PyTorch side of the ticketfarm benchmarks: the same LeNet-300-100, batch, Adam and masks on one
thread, as users of the reference tools train it (dense weights times a mask).

  bench_torch.py epoch DATA_DIR            one dense epoch (1,000 steps of batch 60)
  bench_torch.py task DATA_DIR MASKS N     the 16-round task of tests/bench_rounds.c, N iterations
                                           per round, from its theta_0 and masks (MASKS file)

Prints "SKIPPED: ..." and exits 0 when torch cannot be imported. Times are processor time of the
process (time.process_time) and wall time, as the C benchmarks measure them.
"""
import gzip
import os
import struct
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIPPED: python3-torch is not installed")
    sys.exit(0)

SIZES = [784, 300, 100, 10]
BATCH = 60
LR = 1.2e-3
EVAL_EVERY = 100
EVAL_CHUNK = 1000
VALIDATION = 5000


def read_idx(path):
    """An IDX file of unsigned bytes, plain or .gz, as a numpy array."""
    for name in (path, path + ".gz"):
        if os.path.exists(name):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rb") as f:
                data = f.read()
            break
    else:
        raise FileNotFoundError(path)
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_mnist(data_dir):
    """Images as float32 in [0, 1] (pixel / 255), flattened, already in memory."""
    d = os.path.join(data_dir, "mnist")
    tr = read_idx(os.path.join(d, "train-images-idx3-ubyte")).reshape(-1, 784)
    trl = read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    te = read_idx(os.path.join(d, "t10k-images-idx3-ubyte")).reshape(-1, 784)
    tel = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte"))
    f = lambda a: torch.from_numpy(a.astype(np.float32) / np.float32(255.0))
    l = lambda a: torch.from_numpy(a.astype(np.int64))
    return f(tr), l(trl), f(te), l(tel)


def new_params():
    ws, bs = [], []
    for i in range(3):
        w = torch.empty(SIZES[i + 1], SIZES[i])
        torch.nn.init.xavier_normal_(w)
        ws.append(w.requires_grad_())
        bs.append(torch.zeros(SIZES[i + 1], requires_grad=True))
    return ws, bs


def forward(x, ws, bs, masks=None):
    for i in range(3):
        w = ws[i] if masks is None else ws[i] * masks[i]
        x = F.linear(x, w, bs[i])
        if i < 2:
            x = F.relu(x)
    return x


def clocks():
    return time.process_time(), time.perf_counter()


def epoch(data_dir):
    x, y, _, _ = load_mnist(data_dir)
    ws, bs = new_params()
    opt = torch.optim.Adam(ws + bs, lr=LR)
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, x.shape[0], (1000, BATCH), generator=g)
    best_c = best_w = float("inf")
    for _ in range(3):
        c0, w0 = clocks()
        for s in range(1000):
            xb, yb = x[idx[s]], y[idx[s]]
            loss = F.cross_entropy(forward(xb, ws, bs), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        c1, w1 = clocks()
        best_c, best_w = min(best_c, c1 - c0), min(best_w, w1 - w0)
    print("pytorch %s dense epoch (1000 steps, batch 60, adam): %.3f s processor, %.3f s wall"
          % (torch.__version__, best_c, best_w))


def read_masks(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"TFBENCH1":
        raise ValueError("%s: not a bench_rounds masks file" % path)
    n_params, rounds, mask_bytes = struct.unpack("<QQQ", data[8:32])
    off = 32
    theta0 = np.frombuffer(data, dtype=np.float32, count=n_params, offset=off)
    off += 4 * n_params
    masks = []
    for _ in range(rounds):
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8, count=mask_bytes, offset=off))
        masks.append(bits)
        off += mask_bytes
    return theta0, masks


def split_layers(theta0, bits):
    """theta_0 (net layout: W_l then b_l per layer) and one round's mask bits (weights only)."""
    ws, bs, ms = [], [], []
    p = q = 0
    for i in range(3):
        n_w = SIZES[i + 1] * SIZES[i]
        ws.append(torch.from_numpy(theta0[p:p + n_w].copy()).reshape(SIZES[i + 1], SIZES[i]))
        bs.append(torch.from_numpy(theta0[p + n_w:p + n_w + SIZES[i + 1]].copy()))
        mask = torch.from_numpy(bits[q:q + n_w].astype(np.float32))
        ms.append(mask.reshape(SIZES[i + 1], SIZES[i]))
        p += n_w + SIZES[i + 1]
        q += n_w
    return ws, bs, ms


def evaluate(x, y, ws, bs, ms):
    loss, hits = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], EVAL_CHUNK):
            z = forward(x[i:i + EVAL_CHUNK], ws, bs, ms)
            loss += F.cross_entropy(z, y[i:i + EVAL_CHUNK], reduction="sum").item()
            hits += (z.argmax(1) == y[i:i + EVAL_CHUNK]).sum().item()
    return loss / x.shape[0], hits / x.shape[0]


def task(data_dir, masks_path, iterations):
    x, y, xt, yt = load_mnist(data_dir)
    theta0, masks = read_masks(masks_path)
    g = torch.Generator().manual_seed(1)
    perm = torch.randperm(x.shape[0], generator=g)
    xv, yv = x[perm[:VALIDATION]], y[perm[:VALIDATION]]
    train_idx = perm[VALIDATION:]
    c_start, w_start = clocks()
    for r, bits in enumerate(masks):
        c0, w0 = clocks()
        ws, bs, ms = split_layers(theta0, bits)
        for t in ws + bs:
            t.requires_grad_()
        opt = torch.optim.Adam(ws + bs, lr=LR)
        evaluate(xv, yv, ws, bs, ms)
        evaluate(xt, yt, ws, bs, ms)
        order = train_idx[torch.randperm(train_idx.shape[0], generator=g)]
        for it in range(iterations):
            b = order[(it * BATCH) % (order.shape[0] - BATCH):][:BATCH]
            loss = F.cross_entropy(forward(x[b], ws, bs, ms), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (it + 1) % EVAL_EVERY == 0:
                evaluate(xv, yv, ws, bs, ms)
                evaluate(xt, yt, ws, bs, ms)
        # the next mask by layerwise magnitude, as the pipeline computes it
        with torch.no_grad():
            for i in range(3):
                kept = (ws[i] * ms[i]).abs()[ms[i] > 0]
                rate = 0.1 if i == 2 else 0.2
                k = int(rate * kept.numel() + 0.5)
                if k > 0:
                    torch.kthvalue(kept, k)
        c1, w1 = clocks()
        print("pytorch round %2d  density %.4f  %.3f s processor  %.3f s wall"
              % (r, bits.mean(), c1 - c0, w1 - w0))
    c_end, w_end = clocks()
    print("pytorch %s 16-round task: %.2f s processor, %.2f s wall"
          % (torch.__version__, c_end - c_start, w_end - w_start))


def main(argv):
    torch.set_num_threads(1)
    torch.manual_seed(1)
    if len(argv) == 3 and argv[1] == "epoch":
        epoch(argv[2])
    elif len(argv) == 5 and argv[1] == "task":
        task(argv[2], argv[3], int(argv[4]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
