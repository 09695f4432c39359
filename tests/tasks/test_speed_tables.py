"""benchmarks/speed/bench_epoch.py: the table rebuilt from the log of a run cut off early."""

from __future__ import annotations

MB = 2**20
LOG = f"""\
# pubmed gcn gnnkit rep0: {{'epoch_s': 0.002, 'infer_s': 0.001, 'peak_bytes': {100 * MB}}}
# pubmed gcn pyg rep0: {{'epoch_s': 0.004, 'infer_s': 0.002, 'peak_bytes': {200 * MB}}}
# pubmed gcn pyg-sparse rep0: {{'error': 'boom'}}
some other line the run printed
# pubmed gcn pyg-sparse rep1: {{'error': 'boom'}}
# pubmed gcn pyg rep1: {{'epoch_s': 0.001, 'infer_s': 0.002, 'peak_bytes': {200 * MB}}}
# pubmed gcn gnnkit rep1: {{'epoch_s': 0.003, 'infer_s': 0.001, 'peak_bytes': {100 * MB}}}
# pubmed gcn gnnkit rep2: {{'epoch_s': 9.0, 'infer_s': 9.0, 'peak_bytes': {900 * MB}}}
"""


def test_table_from_log_pairs_only_completed_repeats(benchmark_script):
    bench = benchmark_script("speed/bench_epoch.py")
    header, rule, row = bench.table_from_log(LOG)
    assert header.startswith("| dataset | model |") and header.endswith("| repeats |")
    assert rule.count("|") == header.count("|")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["pubmed", "gcn"]
    # repeat 2 ran for gnnkit only: left out. Paired ratios 0.002/0.004 and 0.003/0.001:
    # median 1.75 (the ratio of the medians, 2.5 ms / 2.5 ms, would be 1.00)
    assert cells[2] == "2.5 ms" and cells[3].startswith("2.5 ms (edge_index")
    assert "torch.sparse fails: boom" in cells[3]
    assert cells[4] == "**1.75**"
    assert cells[7:] == ["100 MB", "200 MB", "0.50", "2"]


def test_profile_counts_the_operators_of_one_epoch(benchmark_script):
    import torch

    bench = benchmark_script("speed/bench_epoch.py")
    w = torch.randn(8, 8, requires_grad=True)

    def epoch():
        (torch.randn(4, 8) @ w).relu().sum().backward()

    p = bench._profile_epoch(epoch, lambda: None, torch.device("cpu"))
    assert p["top_level_aten_ops"] >= 3 and p["cuda_kernels"] == 0      # randn, mm, relu, ...
    assert {name for name, _, _ in p["top_ms"]} & {"aten::mm", "aten::relu", "aten::randn"}
    rows = bench.profile_rows({"gnnkit": [{"epoch_s": 1.0}, {"profile": p}]}, "cora", "gcn")
    assert len(rows) == 1 and rows[0].startswith(
        f"| cora | gcn | gnnkit | {p['top_level_aten_ops']} | 0 | ")


def test_paired_differences_and_bad_keys(tmp_path, benchmark_script, capsys):
    import json

    import pytest

    paired = benchmark_script("graph_prediction/paired.py")
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"folds": [{"fold": 0, "val_acc": 0.9}, {"fold": 1, "val_acc": 0.8},
                                       {"fold": 2, "val_acc": 0.7}]}))
    hist = tmp_path / "history.csv"
    hist.write_text("fold,epoch,val_metric\n0,1,0.5\n0,2,0.85\n0,3,0.99\n1,1,0.8\n")
    assert paired.main([f"{a}:val_acc", f"{hist}:2"]) == 0
    out = capsys.readouterr().out
    # folds 0 and 1 in common; best of the first 2 epochs: 0.85 and 0.80 -> +5.00 and +0.00
    assert "| 0 | 90.00 | 85.00 | +5.00 |" in out and "| 1 | 80.00 | 80.00 | +0.00 |" in out
    assert "2 folds: A - B = +2.50 points on average (standard error 2.50)" in out
    with pytest.raises(SystemExit, match="have no 'test_acc'; give one of fold, val_acc"):
        paired.main([f"{a}:test_acc", f"{hist}:2"])
    with pytest.raises(SystemExit, match="give N, a number of epochs"):
        paired.main([f"{a}:val_acc", f"{hist}:val_acc"])
    other = tmp_path / "other.json"
    other.write_text("[]")
    with pytest.raises(SystemExit, match="not a collect.py file"):
        paired.main([f"{other}:val_acc", f"{a}:val_acc"])
    # RMSEs are printed as they are (no %), and an RMSE is not paired with an accuracy
    r, s = tmp_path / "r.json", tmp_path / "s.json"
    for path, values in ((r, (0.70, 0.61, 0.64)), (s, (0.60, 0.58, 0.59))):
        path.write_text(json.dumps({"folds": [{"fold": k, "test_rmse": v}
                                              for k, v in enumerate(values)]}))
    assert paired.main([f"{r}:test_rmse", f"{s}:test_rmse"]) == 0
    out = capsys.readouterr().out
    assert "| fold | A | B | A - B |" in out and "| 0 | 0.700 | 0.600 | +0.100 |" in out
    # differences 0.10, 0.03, 0.05: mean 0.06, standard error sqrt(0.0013 / 2 / 3) = 0.021
    assert "3 folds: A - B = +0.060 on average (standard error 0.021), from +0.030 to +0.100" in out
    with pytest.raises(SystemExit, match="not figures of one kind"):
        paired.main([f"{r}:test_rmse", f"{a}:val_acc"])
    with pytest.raises(SystemExit, match="not figures of one kind"):
        paired.main([f"{hist}:2", f"{r}:test_rmse"])
