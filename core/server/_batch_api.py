"""The Batch API of :mod:`core.server._server`: ``POST /v1/files``, ``POST /v1/batches``,
``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``, shaped like OpenAI's.

A batch runs on a background thread, one JSONL line at a time (``batch_delay_s`` each, so a
client sees it progress). Lines whose ``custom_id`` is in ``batch_failures`` are answered in the
error file; with ``batch_expire_after`` set, the batch stops after that many lines as
``expired``, with the finished lines in its output file (as OpenAI does after 24 h).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP

import numpy as np

from core.server._errors import HTTPError
from core.server._types import ServerState, reference_embedding


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def upload_file(state: ServerState, content_type: str, body: bytes) -> dict:
    """Store an uploaded (multipart ``file`` + ``purpose``) file; returns its file object."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise HTTPError(400, "Upload a file as multipart/form-data with fields file and purpose.")
    fields, filename = {}, "upload.jsonl"
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True) or b""
        if name == "file":
            filename = part.get_filename() or filename
    if "file" not in fields:
        raise HTTPError(400, "Missing the 'file' field.", param="file")
    file_id = _new_id("file")
    with state.lock:
        state.files[file_id] = fields["file"]
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(fields["file"]),
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": fields.get("purpose", b"batch").decode("utf-8", "replace"),
        "status": "processed",
    }


def file_content(state: ServerState, file_id: str) -> bytes:
    with state.lock:
        if file_id not in state.files:
            raise HTTPError(404, f"No such File object: {file_id}", param="id")
        return state.files[file_id]


def get_batch(state: ServerState, batch_id: str) -> dict:
    with state.lock:
        if batch_id not in state.batches:
            raise HTTPError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        batch = dict(state.batches[batch_id])
        batch["request_counts"] = dict(batch["request_counts"])
        return batch


def _vectors(state: ServerState, inputs: list[str], model: str, dims) -> np.ndarray:
    if state.embed_fn is not None:
        return np.asarray(state.embed_fn(list(inputs), model), dtype=np.float32)
    return np.stack([reference_embedding(t, model, dims) for t in inputs])


def create_batch(state: ServerState, body: bytes, _embed=None) -> dict:
    """Validate a batch request, start it on a thread; returns the batch object."""
    try:
        req = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPError(400, f"We could not parse the JSON body of your request: {exc}") from None
    file_id = req.get("input_file_id")
    if req.get("endpoint") != "/v1/embeddings":
        raise HTTPError(400, "This server runs batches for /v1/embeddings only.", param="endpoint")
    raw = file_content(state, file_id)
    try:
        lines = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPError(400, f"The input file is not valid JSONL: {exc}") from None
    batch_id = _new_id("batch")
    batch = {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/embeddings",
        "input_file_id": file_id,
        "completion_window": req.get("completion_window", "24h"),
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": int(time.time()),
        "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        "errors": None,
        "metadata": req.get("metadata"),
    }
    with state.lock:
        state.batches[batch_id] = batch
    threading.Thread(target=_run, args=(state, batch_id, lines), daemon=True).start()
    return get_batch(state, batch_id)


def _answer(state: ServerState, line: dict) -> tuple[dict | None, dict | None]:
    custom_id = line.get("custom_id")
    body = line.get("body") or {}
    if custom_id in state.batch_failures:
        error = {"code": "server_error", "message": "The server had an error on this line."}
        return None, {"id": _new_id("req"), "custom_id": custom_id, "response": None,
                      "error": error}  # fmt: skip
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
    model = body.get("model")
    vectors = _vectors(state, inputs, model, body.get("dimensions"))
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {"object": "embedding", "index": i,
         "embedding": base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii")
         if as_base64 else vec.tolist()}
        for i, vec in enumerate(vectors)
    ]  # fmt: skip
    tokens = sum(len(t.encode("utf-8")) // 4 + 1 for t in inputs)
    response = {
        "status_code": 200,
        "request_id": _new_id("req"),
        "body": {"object": "list", "data": data, "model": model,
                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
    }  # fmt: skip
    return {"id": _new_id("batch_req"), "custom_id": custom_id, "response": response,
            "error": None}, None  # fmt: skip


def _run(state: ServerState, batch_id: str, lines: list[dict]) -> None:
    outputs, errors = [], []
    with state.lock:
        state.batches[batch_id]["status"] = "in_progress"
        expire_after = state.batch_expire_after
    status = "completed"
    for n, line in enumerate(lines):
        if expire_after is not None and n >= expire_after:
            status = "expired"
            break
        if state.stopping.wait(state.batch_delay_s) if state.batch_delay_s > 0 else False:
            return
        ok, failed = _answer(state, line)
        with state.lock:
            counts = state.batches[batch_id]["request_counts"]
            if ok is not None:
                outputs.append(ok)
                counts["completed"] += 1
            else:
                errors.append(failed)
                counts["failed"] += 1
    with state.lock:
        batch = state.batches[batch_id]
        if outputs:
            out_id = _new_id("file")
            state.files[out_id] = "".join(json.dumps(o) + "\n" for o in outputs).encode()
            batch["output_file_id"] = out_id
        if errors:
            err_id = _new_id("file")
            state.files[err_id] = "".join(json.dumps(e) + "\n" for e in errors).encode()
            batch["error_file_id"] = err_id
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())
