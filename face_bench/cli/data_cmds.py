"""``fetch`` and ``datasets``: get a public face set on request, and see which ones are here."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from face_bench.cli.app import command
from face_bench.cli.options import CacheDirOpt, ConfigOpt, FormatOpt, OutputFormat

NameArg = Annotated[str, typer.Argument(help="Dataset to download: lfw or lfw-original.")]
MirrorOpt = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        help="Base URL holding the same file names (lfw-funneled.tgz, pairs.txt, ...); the "
        "checksums must still match scikit-learn's.",
        envvar="FACE_BENCH_LFW_MIRROR",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for each read from the server.", min=1)
]
DeadlineOpt = Annotated[
    float,
    typer.Option(
        "--deadline",
        help="Seconds the whole fetch may take; what arrived by then is kept, and the same "
        "command resumes it.",
        min=1,
    ),
]


def fetch(
    name: NameArg,
    mirror: MirrorOpt = None,
    cache_dir: CacheDirOpt = None,
    timeout: TimeoutOpt = 30.0,
    deadline: DeadlineOpt = 3600.0,
) -> None:
    from face_bench.cli.console import info, stdout
    from face_bench.core.errors import DatasetError
    from face_bench.core.io import default_cache_dir
    from face_bench.data.fetch import fetch_lfw
    from face_bench.data.named import NAMED_DATASETS

    named = NAMED_DATASETS.get(name)
    if named is None:
        raise DatasetError(f"unknown dataset {name!r}; fetchable: {', '.join(NAMED_DATASETS)}")
    home = named.home(cache_dir or default_cache_dir())
    info(f"{named.name}: {named.title}; {named.size}")
    info(f"licence: {named.licence}")
    from face_bench.cli.console import progress_factory

    with progress_factory(transfer=True) as bars:
        result = fetch_lfw(
            home,
            funneled=named.funneled,
            mirror=mirror,
            progress=bars,
            on_message=info,
            timeout=timeout,
            deadline=deadline,
        )
    if result.reused and not result.downloaded:
        info("already downloaded and verified; nothing fetched")
    stdout.print(
        f"{result.name}: {result.n_images:,} images of {result.n_identities:,} people in "
        f"{result.folder} (manifest.csv, pairs.txt). Use it with --data {result.name}"
        + (" or plain `face-bench lfw`." if result.name == "lfw" else ".")
    )


command(
    "fetch",
    "Download a public face set into face-bench's cache and make it a dataset "
    "(manifest.csv, pairs.txt): LFW through scikit-learn's own fetcher (its files and "
    "SHA-256 checksums), with progress, resuming a broken download. Nothing else downloads.",
)(fetch)


def datasets(
    config: ConfigOpt = None,
    cache_dir: CacheDirOpt = None,
    output_format: FormatOpt = OutputFormat.TABLE,
) -> None:
    from face_bench.cli.console import print_unbroken, stdout
    from face_bench.cli.tables import SafeTable as Table
    from face_bench.core.config import load_config
    from face_bench.core.io import default_cache_dir
    from face_bench.data.named import NAMED_DATASETS, default_data

    cache = cache_dir or default_cache_dir()
    rows = [
        {
            "name": d.name,
            "present": d.present(cache),
            "location": str(d.folder(cache)),
            "what": d.title,
            "size": d.size,
            "licence": d.licence,
            "homepage": d.homepage,
            "get it with": f"face-bench fetch {d.name}",
        }
        for d in NAMED_DATASETS.values()
    ]
    default = default_data(load_config(config), cache)
    if output_format is OutputFormat.JSON:
        stdout.print_json(json.dumps({"datasets": rows, "default": default}, ensure_ascii=False))
        return
    table = Table(title="face-bench datasets", title_justify="left")
    for column in ("name", "present", "what"):
        table.add_column(column)
    for row in rows:
        present = "yes" if row["present"] else f"no ({row['get it with']})"
        table.add_row(str(row["name"]), present, str(row["what"]))
    stdout.print(table)
    # Paths and licence notes below the table: a path on an unbroken line of its own, a note
    # wrapped between words, neither squeezed into a column nor shortened.
    for row in rows:
        print_unbroken(f"{row['name']} location: {row['location']}")
        stdout.print(f"{row['name']} licence: {row['licence']}")
    if default:
        print_unbroken(
            f"default --data here: {default['folder']} ({default['origin']}; "
            f"{'present' if default['present'] else 'not found'})"
        )
    else:
        stdout.print("no default --data here: pass --data, set $FACE_BENCH_DATA or data = ...")


command(
    "datasets",
    "List the named datasets face-bench can fetch: where they are, their licence notes and "
    "whether they are present; and the dataset a run here uses when --data is not given.",
)(datasets)
