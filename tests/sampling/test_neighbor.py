"""Neighbour sampling: sampled edges exist, counts, no repeats, uniform subsets, seeding, and
mini-batch forward passes on full-neighbourhood blocks equal to full-graph ones."""

import itertools
import threading

import pytest
import torch
import torch.nn.functional as F

import gnnkit.sampling.neighbor as neighbor_module
from gnnkit import Block, Graph, GraphError
from gnnkit.models import GAT, GCN, GraphSAGE
from gnnkit.nn import SAGEConv
from gnnkit.sampling import MiniBatch, NeighborLoader, sample_blocks, sample_neighbors


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_digraph(n=60, e=500, isolated=5, seed=0, features=8):
    """Distinct random edges u -> v (u != v) among nodes 0..n-1; nodes n..n+isolated-1 have
    no edges. Edge weights and attributes are the edge ids, to check they follow the edges."""
    g0 = gen(seed)
    key = torch.unique(torch.randint(n * n, (e,), generator=g0))
    src, dst = key // n, key % n
    keep = src != dst
    ei = torch.stack([src[keep], dst[keep]])
    ei = ei[:, torch.randperm(ei.shape[1], generator=g0)]             # unsorted COO
    m = ei.shape[1]
    return Graph(edge_index=ei, num_nodes=n + isolated,
                 x=torch.randn(n + isolated, features, generator=g0),
                 edge_weight=torch.arange(m, dtype=torch.float32),
                 edge_attr=torch.arange(m, dtype=torch.float32).unsqueeze(1).repeat(1, 2))


def in_degree(g):
    return torch.bincount(g.edge_index[1], minlength=g.num_nodes)


def check_block(g, block, seeds):
    """Structural invariants of one block sampled from g for the given seeds."""
    assert isinstance(block, Block)
    assert block.num_dst == seeds.numel()
    assert torch.equal(block.dst_id, seeds)                      # destinations first, in order
    assert torch.unique(block.n_id).numel() == block.num_src     # each node once
    src, dst = block.edge_index
    assert bool((dst < block.num_dst).all()) and bool((src < block.num_src).all())
    # every sampled edge is the parent edge e_id, with its weight and attributes
    assert torch.equal(g.edge_index[:, block.e_id], block.n_id[block.edge_index])
    assert torch.equal(block.graph.edge_weight, g.edge_weight[block.e_id])
    assert torch.equal(block.graph.edge_attr, g.edge_attr[block.e_id])
    # edges are grouped by destination, in seed order
    assert bool((dst.diff() >= 0).all())


# --------------------------------------------------------------------------- one hop
@pytest.mark.parametrize("fanout", [1, 2, 5, 9, -1])
def test_sampled_edges_exist_with_min_degree_fanout_counts_and_no_repeats(fanout):
    g = random_digraph()
    ei_before = g.edge_index.clone()
    seeds = torch.randperm(g.num_nodes, generator=gen(1))[:40]
    block = sample_neighbors(g, seeds, fanout, gen(2))
    check_block(g, block, seeds)
    deg = in_degree(g)[seeds]
    want = deg if fanout == -1 else deg.clamp(max=fanout)
    assert torch.equal(torch.bincount(block.edge_index[1], minlength=40), want)
    assert torch.unique(block.e_id).numel() == block.num_edges   # no edge twice
    assert torch.equal(g.edge_index, ei_before)                  # input unchanged


def test_full_fanout_keeps_exactly_the_in_edges():
    g = random_digraph()
    seeds = torch.arange(g.num_nodes)
    block = sample_neighbors(g, seeds, -1)
    assert block.num_edges == g.num_edges
    assert sorted(block.e_id.tolist()) == list(range(g.num_edges))
    assert block.num_src == g.num_nodes


def test_sampling_with_replacement_draws_fanout_edges_of_positive_degree_seeds():
    g = random_digraph()
    seeds = torch.arange(g.num_nodes)
    block = sample_neighbors(g, seeds, 7, gen(3), replace=True)
    check_block(g, block, seeds)
    deg = in_degree(g)
    want = torch.where(deg > 0, 7, 0)
    assert torch.equal(torch.bincount(block.edge_index[1], minlength=g.num_nodes), want)
    assert torch.unique(block.e_id).numel() < block.num_edges    # degree < 7 forces repeats
    assert sample_neighbors(g, seeds, -1, replace=True).num_edges == g.num_edges


def test_isolated_seeds_get_no_edges_and_stay_destinations():
    g = random_digraph(isolated=3)
    iso = torch.tensor([g.num_nodes - 1, g.num_nodes - 3])
    block = sample_neighbors(g, iso, 5, gen())
    assert block.num_edges == 0 and block.num_src == 2 and torch.equal(block.n_id, iso)
    empty = Graph(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=4)
    blocks = sample_blocks(empty, torch.tensor([2, 0]), [3, -1], gen())
    assert [(b.num_src, b.num_dst, b.num_edges) for b in blocks] == [(2, 2, 0), (2, 2, 0)]


@pytest.mark.parametrize("fanout", [0, -2, 2.5, True, "3", None])
def test_bad_fanout_is_a_clear_error(fanout):
    g = random_digraph()
    with pytest.raises(ValueError, match="fanout must be a positive int"):
        sample_neighbors(g, torch.tensor([0]), fanout)
    with pytest.raises(ValueError, match=r"fanouts\[1\] must be a positive int"):
        sample_blocks(g, torch.tensor([0]), [3, fanout])


def test_bad_seeds_and_fanout_lists_are_clear_errors():
    g = random_digraph()
    with pytest.raises(ValueError, match="seeds is empty"):
        sample_neighbors(g, torch.tensor([], dtype=torch.long), 3)
    with pytest.raises(ValueError, match="seeds is empty"):
        sample_blocks(g, torch.zeros(g.num_nodes, dtype=torch.bool), [3])
    with pytest.raises(ValueError, match="repeated"):
        sample_neighbors(g, torch.tensor([1, 2, 1]), 3)
    with pytest.raises(ValueError, match=r"must lie in \[0, 65\)"):
        sample_neighbors(g, torch.tensor([0, 65]), 3)
    with pytest.raises(ValueError, match="integer node ids"):
        sample_neighbors(g, torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="1-D"):
        sample_neighbors(g, torch.tensor([[0, 1]]), 3)
    for bad in ([], 3, "25,10"):
        with pytest.raises(ValueError, match="one fan-out per layer"):
            sample_blocks(g, torch.tensor([0]), bad)
    mask = torch.zeros(g.num_nodes, dtype=torch.bool)
    mask[[4, 1]] = True
    assert sample_neighbors(g, mask, 3).dst_id.tolist() == [1, 4]


# --------------------------------------------------------------------------- uniformity
def chi_square(counts, expected):
    return float(((counts.double() - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("d,k", [(10, 3), (4, 3), (6, 1)])
def test_sampled_neighbour_sets_are_uniform_subsets(d, k):
    """Many seeds with the same d in-neighbours (leaves 0..d-1): the sampled k-subsets are
    uniform over all C(d, k) subsets (chi-square far below a loose bound)."""
    m = 300 * len(list(itertools.combinations(range(d), k)))       # ~300 per subset
    centers = torch.arange(d, d + m)
    ei = torch.stack([torch.arange(d).repeat(m), centers.repeat_interleave(d)])
    g = Graph(edge_index=ei, num_nodes=d + m)
    block = sample_neighbors(g, centers, k, gen(4))
    leaf = block.n_id[block.edge_index[0]].view(m, k)                # [M, k] sampled leaves
    subset = torch.zeros(m, dtype=torch.long)
    for i in range(k):
        subset |= 1 << leaf[:, i]
    cells = [sum(1 << v for v in c) for c in itertools.combinations(range(d), k)]
    counts = torch.stack([(subset == c).sum() for c in cells])
    assert int(counts.sum()) == m                                    # always k distinct leaves
    df = len(cells) - 1
    assert chi_square(counts, m / len(cells)) < df + 6 * (2 * df) ** 0.5 + 10


def test_hub_marginals_are_uniform_with_and_without_replacement():
    """A hub of in-degree 1000 sampled 2 at a time: each neighbour's frequency is uniform."""
    d, k, m = 1000, 25, 400                                          # 10 draws per leaf each
    centers = torch.arange(d, d + m)
    ei = torch.stack([torch.arange(d).repeat(m), centers.repeat_interleave(d)])
    g = Graph(edge_index=ei, num_nodes=d + m)
    for replace in (False, True):
        block = sample_neighbors(g, centers, k, gen(5), replace=replace)
        leaf = block.n_id[block.edge_index[0]]
        counts = torch.bincount(leaf, minlength=d)
        assert chi_square(counts, m * k / d) < (d - 1) + 6 * (2 * (d - 1)) ** 0.5
        per_row = leaf.view(m, k).sort(1).values
        repeats = int((per_row[:, 1:] == per_row[:, :-1]).sum())
        if replace:
            assert repeats > 0                    # about m * C(25, 2) / 1000 = 120 expected
        else:
            assert repeats == 0


# --------------------------------------------------------------------------- several hops
def test_blocks_chain_and_are_seeded():
    g = random_digraph()
    seeds = torch.tensor([3, 17, 0, 42])
    blocks = sample_blocks(g, seeds, [4, 2, 3], gen(6))
    assert len(blocks) == 3
    check_block(g, blocks[-1], seeds)
    for lower, upper in zip(blocks[:-1], blocks[1:], strict=True):
        check_block(g, lower, upper.n_id)         # block l's destinations = block l+1's sources
    deg = in_degree(g)
    for block, k in zip(blocks, [4, 2, 3], strict=True):
        counts = torch.bincount(block.edge_index[1], minlength=block.num_dst)
        assert torch.equal(counts, deg[block.dst_id].clamp(max=k))
    again = sample_blocks(g, seeds, [4, 2, 3], gen(6))
    other = sample_blocks(g, seeds, [4, 2, 3], gen(7))
    for a, b in zip(blocks, again, strict=True):
        assert torch.equal(a.n_id, b.n_id) and torch.equal(a.e_id, b.e_id)
        assert torch.equal(a.edge_index, b.edge_index)
    assert any(not torch.equal(a.e_id, b.e_id) for a, b in zip(blocks, other, strict=True))


def test_block_checks_its_fields_and_moves():
    g = random_digraph()
    b = sample_neighbors(g, torch.tensor([1, 2]), 3, gen())
    with pytest.raises(GraphError, match="num_dst"):
        Block(b.graph, b.num_src + 1, b.n_id, b.e_id)
    with pytest.raises(GraphError, match="n_id"):
        Block(b.graph, 2, b.n_id[:-1], b.e_id)
    with pytest.raises(GraphError, match="e_id"):
        Block(b.graph, 2, b.n_id, b.e_id[:-1])
    moved = b.to("cpu")
    assert torch.equal(moved.n_id, b.n_id) and moved.num_dst == 2
    assert "num_dst=2" in repr(b)


# --------------------------------------------------------------------------- the key math test
@pytest.mark.parametrize("make", [
    lambda f: GraphSAGE(f, 16, 5, num_layers=2, aggregator="mean"),
    lambda f: GraphSAGE(f, 16, 5, num_layers=3, aggregator="mean", normalize=True),
    lambda f: GraphSAGE(f, 16, 5, num_layers=2, aggregator="pool"),
    lambda f: GraphSAGE(f, 4, 5, num_layers=2, aggregator="gcn"),
    lambda f: GAT(f, 4, 5, num_heads=2),
], ids=["sage-mean", "sage-mean-3-layers-normalize", "sage-pool", "sage-gcn", "gat"])
def test_full_neighbourhood_blocks_give_the_full_graph_forward_and_gradients(make):
    g = random_digraph(n=80, e=700, features=12)
    torch.manual_seed(0)
    model = make(12).eval()
    seeds = torch.tensor([5, 0, 79, 33, 81, 12])                  # 81 is isolated
    blocks = sample_blocks(g, seeds, [-1] * len(model.layers), gen())
    full = model(g.x, g)[seeds]                                  # [S, 5]
    mini = model(g.x[blocks[0].n_id], blocks)                    # [S, 5]
    assert mini.shape == (6, 5)
    torch.testing.assert_close(mini, full, atol=1e-5, rtol=1e-5)
    # embed: the output layer's input, one row per source node of the last block
    torch.testing.assert_close(model.embed(g.x[blocks[0].n_id], blocks),
                               model.embed(g.x, g)[blocks[-1].n_id], atol=1e-5, rtol=1e-5)
    # the same loss on the seeds has the same parameter gradients
    y = torch.arange(6) % 5
    grads = []
    for out in (lambda: model(g.x, g)[seeds], lambda: model(g.x[blocks[0].n_id], blocks)):
        model.zero_grad()
        F.cross_entropy(out(), y).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_gcn_on_blocks_uses_block_degrees():
    """Documented difference: GCN normalises with the block's degrees, so sources outside the
    destination set get degree 1 and the result differs from the full graph."""
    g = random_digraph(n=80, e=700, features=12)
    torch.manual_seed(0)
    model = GCN(12, 8, 3).eval()
    seeds = torch.tensor([5, 0, 79])
    blocks = sample_blocks(g, seeds, [-1, -1], gen())
    mini = model(g.x[blocks[0].n_id], blocks)
    assert mini.shape == (3, 3)
    assert not torch.allclose(mini, model(g.x, g)[seeds], atol=1e-5)


def test_sage_layer_on_a_sampled_block_is_the_mean_over_the_sampled_neighbours():
    g = random_digraph(features=6)
    torch.manual_seed(0)
    conv = SAGEConv(6, 3)
    seeds = torch.tensor([7, 2, 30, 61])                          # 61 is isolated
    block = sample_neighbors(g, seeds, 3, gen(8))
    out = conv(g.x[block.n_id], block.graph)[:block.num_dst]      # [4, 3]
    ref = []
    for i, v in enumerate(seeds.tolist()):
        nbrs = block.n_id[block.edge_index[0, block.edge_index[1] == i]]
        agg = g.x[nbrs].mean(0) if nbrs.numel() else torch.zeros(6)
        ref.append(conv.lin_neigh(agg) + conv.lin_self(g.x[v]))
    torch.testing.assert_close(out, torch.stack(ref), atol=1e-6, rtol=1e-5)


def test_model_rejects_a_wrong_number_of_blocks():
    g = random_digraph()
    model = GraphSAGE(8, 4, 2, num_layers=2)
    blocks = sample_blocks(g, torch.tensor([1]), [2, 2, 2], gen())
    with pytest.raises(ValueError, match="list of 2 Blocks"):
        model(g.x[blocks[0].n_id], blocks)


# --------------------------------------------------------------------------- the loader
def test_loader_covers_every_node_once_per_pass_in_seeded_order():
    g = random_digraph()
    nodes = torch.arange(0, 50)
    loader = NeighborLoader(g, nodes, [3, 2], batch_size=16, shuffle=True, generator=gen(9))
    assert len(loader) == 4
    batches = list(loader)
    assert [b.seeds.numel() for b in batches] == [16, 16, 16, 2]
    assert sorted(torch.cat([b.seeds for b in batches]).tolist()) == list(range(50))
    assert not torch.equal(torch.cat([b.seeds for b in batches]), nodes)   # shuffled
    for b in batches:
        assert isinstance(b, MiniBatch)
        assert torch.equal(b.input_nodes, b.blocks[0].n_id)
        assert torch.equal(b.seeds, b.blocks[-1].dst_id)
        assert len(b.blocks) == 2
    second = [b.seeds for b in loader]                                      # a new order
    assert not torch.equal(torch.cat(second), torch.cat([b.seeds for b in batches]))
    dropped = NeighborLoader(g, nodes, [3], batch_size=16, drop_last=True)
    assert len(dropped) == 3 and [b.seeds.numel() for b in dropped] == [16, 16, 16]
    plain = NeighborLoader(g, nodes, [3], batch_size=16)
    assert torch.equal(torch.cat([b.seeds for b in plain]), nodes)         # no shuffle


def same_batches(xs, ys):
    assert len(xs) == len(ys)
    for a, b in zip(xs, ys, strict=True):
        assert torch.equal(a.seeds, b.seeds) and torch.equal(a.input_nodes, b.input_nodes)
        for u, v in zip(a.blocks, b.blocks, strict=True):
            assert torch.equal(u.e_id, v.e_id) and torch.equal(u.edge_index, v.edge_index)


def test_loader_is_deterministic_and_prefetch_gives_the_same_batches():
    g = random_digraph()
    kw = dict(fanouts=[3, 2], batch_size=8, shuffle=True)
    ref = list(NeighborLoader(g, torch.arange(60), generator=gen(10), **kw))
    same_batches(ref, list(NeighborLoader(g, torch.arange(60), generator=gen(10), **kw)))
    same_batches(ref, list(NeighborLoader(g, torch.arange(60), generator=gen(10), prefetch=2,
                                          **kw)))


def test_prefetch_thread_stops_on_early_exit_and_forwards_errors(monkeypatch):
    g = random_digraph()
    before = threading.active_count()
    loader = NeighborLoader(g, torch.arange(60), [2], batch_size=4, prefetch=1)
    it = iter(loader)
    next(it)
    it.close()                                                   # leave the pass early
    assert threading.active_count() == before
    assert not any(t.name == "gnnkit-neighbor-prefetch" for t in threading.enumerate())

    def boom(*args, **kwargs):
        raise RuntimeError("sampler failed")

    monkeypatch.setattr(neighbor_module, "_sample_blocks", boom)
    with pytest.raises(RuntimeError, match="sampler failed"):
        list(loader)
    assert threading.active_count() == before


def test_loader_arguments_are_checked():
    g = random_digraph()
    with pytest.raises(ValueError, match="batch_size"):
        NeighborLoader(g, torch.arange(4), [2], batch_size=0)
    with pytest.raises(ValueError, match="prefetch"):
        NeighborLoader(g, torch.arange(4), [2], prefetch=-1)
    with pytest.raises(ValueError, match="nodes is empty"):
        NeighborLoader(g, torch.arange(0), [2])
    with pytest.raises(ValueError, match="fanout"):
        NeighborLoader(g, torch.arange(4), [0])


def test_minibatch_training_reduces_the_loss():
    """A GraphSAGE trained on sampled blocks fits the labels of a small graph."""
    g = random_digraph(n=60, e=600, isolated=0, features=8)
    y = (g.x[:, 0] > 0).long()
    torch.manual_seed(0)
    model = GraphSAGE(8, 16, 2, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = NeighborLoader(g, torch.arange(60), [5, 5], batch_size=20, shuffle=True,
                            generator=gen(11))
    for _ in range(30):
        for blocks, input_nodes, seeds in loader:
            opt.zero_grad()
            F.cross_entropy(model(g.x[input_nodes], blocks), y[seeds]).backward()
            opt.step()
    model.eval()
    acc = (model(g.x, g).argmax(1) == y).float().mean()
    assert float(acc) == 1.0
