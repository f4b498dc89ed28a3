"""The Markdown report of the dashboard benchmark (``core.bench._dashboard``): its tables and
the "what dominates" explanation, from the JSON result."""

from __future__ import annotations

from core.bench._dashboard import _PIECE_COUNTS, SERVER_STEPS


def _ms(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def markdown(result: dict) -> str:
    env, data = result["environment"], result["collection_file"]
    large, cold, fresh = result["large"], result["cold_start"], result["fresh_processes"]
    load = ", ".join(f"{v:.2f}" for v in env["load_average_at_start"])
    load_end = ", ".join(f"{v:.2f}" for v in result["load_average_at_end"])
    blas_env = ", ".join(f"{k}={v}" for k, v in env["env"].items())
    first = next(s for s in large["searches"] if s["first"])
    later = large["later_median"]
    n = data["docs"]
    lines = [
        "# The dashboard's own latency",
        "",
        f"Measured {result['measured']} by `{result['command']}` in headless Chromium "
        f"(viewport {result['viewport']['width']}×{result['viewport']['height']}, the whole "
        f"Search page in view) against a fresh `streamlit run app.py`; {env['cpu']}, "
        f"{env['cores']} cores. Load average (1, 5, 15 min) at the start: {load}; at the end: "
        f"{load_end}. BLAS environment: {blas_env}.",
        "",
        f"### Search on {n:,} documents × {data['dim']}",
        "",
        f"A saved collection file ({data['file_bytes'] / 2**20:,.0f} MB Parquet: synthetic "
        f"sentences, unit vectors around 50 topic centres, the offline model's spec) loaded "
        f"through the Upload page's *Load a saved collection* in {large['load_file_s']:.1f} s "
        f"(reading it back in one process: {data['read_back_s']:.1f} s).{_upload_note(result)}",
        "",
        "One query, k = 5, cosine, exact (float32); milliseconds from pressing Search:",
        "",
        f"| step | first search | later search (median of {len(large['searches']) - 1} by total) |",
        "| --- | ---: | ---: |",
    ]
    lines += _search_rows(first, later)
    pieces = result["server_pieces_ms"]
    lines += [
        "",
        "The same server-side steps called directly on this collection in one process (best of "
        f"{result.get('repeats', 3)}; the projection fit once; the map draws "
        f"{pieces['points drawn']:,} points, "
        f"{pieces['map JSON bytes'] / 2**20:.2f} MB of figure JSON):",
        "",
        "| step | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {v:,.1f} |" for name, v in pieces.items() if name not in _PIECE_COUNTS]
    lines += [
        "",
        f"### Cold start: `streamlit run` to the first search on the sample "
        f"({cold['total_s']:.1f} s)",
        "",
        "| stage | seconds |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {s:.2f} |" for name, s in cold["stages_s"].items()]
    files = cold["home_page_files"]
    lines += [
        f"| **total** | **{cold['total_s']:.2f}** |",
        "",
        f"Home drawn includes the browser fetching {files['files']} files "
        f"({files['js_bytes'] / 2**20:.1f} MB of JavaScript, the last done "
        f"{files['last_done_ms'] / 1000:.1f} s after navigation started) and the server's first "
        "script run, which imports the app's modules.",
        "",
        "What the parts cost in fresh processes of their own (each import is what it adds to "
        "the ones above it):",
        "",
        "| part | seconds |",
        "| --- | ---: |",
        f"| Python interpreter start | {fresh['interpreter_start_s']:.2f} |",
    ]
    lines += [f"| import {i['module']} | {i['seconds']:.2f} |" for i in fresh["imports"]]
    model = fresh["model"]
    lines += [
        f"| offline model load + warm-up ({model['model']}) | {model['model_load_s']:.2f} |",
        f"| embed the 72 sample documents | {model['sample_embed_s']:.2f} |",
        f"| embed one query | {model['query_embed_s']:.3f} |",
        "",
        "First search on the sample (3 queries), milliseconds from pressing Search:",
        "",
        "| step | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {v} |" for name, v, _ in _rows(cold["first_search"])]
    lines += ["", "### What dominates", "", *dominates(result), ""]
    return "\n".join(lines)


def _upload_note(result: dict) -> str:
    data, limit = result["collection_file"], result["configured_upload_mb"]
    if data["file_bytes"] <= limit * 2**20:
        return ""
    per_doc = data["file_bytes"] / data["docs"]
    return (
        f" The file is larger than the app's {limit} MB upload limit (`server.maxUploadSize` in "
        f".streamlit/config.toml), so this run raised it to {result['max_upload_mb']} MB: with "
        f"the app's settings, a saved {data['dim']}-d collection of more than about "
        f"{limit * 2**20 / per_doc:,.0f} documents cannot be uploaded."
    )


def _rows(row: dict) -> list[tuple[str, str, float | None]]:
    out = [
        ("click → server run starts (websocket, rerun scheduling)",
         _ms(row["click_to_run_start_ms"]), row["click_to_run_start_ms"]),
    ]  # fmt: skip
    for key, label in SERVER_STEPS.items():
        if key in row["server_ms"]:
            out.append((f"server: {label}", _ms(row["server_ms"][key]), row["server_ms"][key]))
    out += [
        ("  of which query embedding", _ms(row["embed_ms"]), row["embed_ms"]),
        ("  of which search", f"{row['search_ms']:,.1f}", row["search_ms"]),
        ("server run ends", _ms(row["run_end_ms"]), row["run_end_ms"]),
        ("browser: server run end → results and map drawn", _ms(row["after_server_ms"]),
         row["after_server_ms"]),
        (f"(last websocket message, of {row['ws_messages']}: "
         f"{row['ws_bytes'] / 1024:,.0f} KiB in all)", _ms(row["last_ws_ms"]), row["last_ws_ms"]),
        ("(last Plotly redraw seen)", _ms(row["last_plotly_redraw_ms"]),
         row["last_plotly_redraw_ms"]),
        (f"(JavaScript fetched on demand: {row['js_fetched_bytes'] / 2**20:.1f} MB, done)",
         _ms(row["js_fetched_ms"] or None), row["js_fetched_ms"]),
        (f"(browser main thread busy in {row['long_tasks']} long tasks, in all)",
         _ms(row["long_tasks_ms"]), row["long_tasks_ms"]),
        ("**results and map drawn**", f"**{_ms(row['total_ms'])}**", row["total_ms"]),
    ]  # fmt: skip
    return out


def _search_rows(first: dict, later: dict | None) -> list[str]:
    # Paired by position: the labels carrying counts are the first search's.
    later_values = [v for _, v, _ in _rows(later)] if later else None
    rows = _rows(first)
    return [
        f"| {name} | {v} | {later_values[i] if later_values else '-'} |"
        for i, (name, v, _) in enumerate(rows)
    ]


def dominates(result: dict) -> list[str]:
    """A short explanation computed from the numbers (the largest parts, by name)."""
    large, cold, fresh = result["large"], result["cold_start"], result["fresh_processes"]
    out = []
    for label, row in (("first search", _first(large)), ("later search", large["later_median"])):
        if not row:
            continue
        parts = {
            "before the server run starts": row["click_to_run_start_ms"],
            **{f"server: {SERVER_STEPS[k]}": v for k, v in row["server_ms"].items()},
            "browser after the server's run": row["after_server_ms"],
        }
        top = sorted(parts.items(), key=lambda kv: -kv[1])[:3]
        share = ", ".join(f"{name} {v:,.0f} ms ({v / row['total_ms']:.0%})" for name, v in top)
        out.append(
            f"- **{result['collection_file']['docs']:,} documents, {label}** "
            f"({row['total_ms']:,.0f} ms): {share}. Query embedding {row['embed_ms']:,.0f} ms, "
            f"search {row['search_ms']:,.1f} ms."
        )
    first, later = _first(large), large["later_median"]
    pieces = result["server_pieces_ms"]
    out.append(
        f"- Once per session: the first search fetches Plotly's JavaScript "
        f"({first['js_fetched_bytes'] / 2**20:.1f} MB, parsed and compiled on the page's main "
        f"thread) and fits the map's projection "
        f"({pieces['map projection fit (PCA, once per session)']:,.0f} ms in one process)."
    )
    if later:
        out.append(
            f"- On every search: the whole map is rebuilt and re-sent "
            f"({pieces['points drawn']:,} points, {pieces['map JSON bytes'] / 2**20:.2f} MB of "
            f"JSON; building the figure takes {pieces['map figure built (projection_figure)']:,.0f}"
            f" ms in one process) and Plotly redraws it (the page's main thread spends "
            f"{later['long_tasks_ms']:,.0f} ms in long tasks). The download button's file name "
            f"(`download_name`) costs {pieces['download file name (download_name)']:,.0f} ms; "
            f"the search itself {pieces['search (k = 5, cosine, exact)']:,.0f} ms."
        )
    stages = cold["stages_s"]
    top = sorted(stages.items(), key=lambda kv: -kv[1])[:2]
    imports = sorted(fresh["imports"], key=lambda i: -i["seconds"])[:3]
    out.append(
        f"- **Cold start** ({cold['total_s']:.1f} s): "
        + ", ".join(f"{name} {s:.1f} s" for name, s in top)
        + ". The largest imports: "
        + ", ".join(f"{i['module']} {i['seconds']:.2f} s" for i in imports)
        + f"; the offline model loads in {fresh['model']['model_load_s']:.2f} s and embeds the "
        f"sample in {fresh['model']['sample_embed_s']:.2f} s. Home drawn is the server's first "
        "script run, which imports the app (the import rows above), while the same process "
        "serves the page's web files."
    )
    env = result["environment"]
    out.append(
        f"- The load average was {env['load_average_at_start'][0]:.1f} at the start on "
        f"{env['cores']} cores: other processes shared the CPU, so every figure is inflated; "
        "compare the parts within this run."
    )
    return out


def _first(large: dict) -> dict:
    return next(s for s in large["searches"] if s["first"])
