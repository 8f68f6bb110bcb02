"""The algebra study's report: medians, every seed, and the seed comparison plot."""

import json

from noether.studies.algebras.report import plot_seeds, seed_table, summarise


def _runs(errors: dict[str, list[float]], size: int = 100) -> list[dict]:
    return [
        {"model": model, "size": size, "seed": seed, "test": {"test": {"mse": e, "mae": e}}}
        for model, values in errors.items()
        for seed, e in enumerate(values)
    ]


def test_summaries_keep_every_seed_in_seed_order_and_the_median():
    runs = _runs({"cga": [3e-3, 1e-4, 2e-4]})
    cell = summarise(list(reversed(runs)))["cga"][100]["test"]
    assert cell["values"] == [3e-3, 1e-4, 2e-4] and cell["median"] == 2e-4


def test_the_seed_table_counts_seeds_within_twice_the_best():
    summary = summarise(_runs({"cga": [3e-3, 1e-4, 1.9e-4], "ega": [1e-4, 1.5e-4, 2e-4]}))
    table = seed_table(summary, {"cga": "CGA", "ega": "EGA"})
    assert "| CGA | 100 | 3.00e-03 | 1.00e-04 | 1.90e-04 | 30.0 | 2/3 |" in table
    assert "| EGA | 100 | 1.00e-04 | 1.50e-04 | 2.00e-04 | 2.0 | 3/3 |" in table


def test_plot_seeds_draws_two_studies_side_by_side(tmp_path):
    paths = {}
    for label, errors in (("before", [3e-3, 1e-4]), ("after", [1e-4, 1.2e-4])):
        paths[label] = tmp_path / f"{label}.json"
        paths[label].write_text(json.dumps({"runs": _runs({"cga": errors, "ega": errors})}))
    out = plot_seeds(paths, tmp_path / "seeds.png")
    assert out.stat().st_size > 5_000
