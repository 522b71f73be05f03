"""MkDocs hook: the figures `make bench` writes under bench/results/, shown on the Benchmark page.

The page links each as ../bench/results/NAME, which GitHub resolves from docs/. MkDocs sees only
docs/, so each figure is added to the site under that same link (which is what the page's link is
checked against) and written under assets/bench/."""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files, InclusionLevel

FIGURES = ("latest.png",)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    results = Path(config.config_file_path).parent / "bench" / "results"
    for name in FIGURES:
        # Included explicitly: by default a path starting with a dot ("..") counts as a hidden file.
        figure = File.generated(
            config,
            f"../bench/results/{name}",
            abs_src_path=str(results / name),
            inclusion=InclusionLevel.NOT_IN_NAV,
        )
        figure.dest_uri = f"assets/bench/{name}"
        files.append(figure)
    return files
