"""The generated code in gnn_assets/proto matches proto/ (regenerate with `make proto`)."""

import subprocess
import sys

from tests.support import REPO


def test_generated_code_is_up_to_date(tmp_path):
    sources = sorted(str(p.relative_to(REPO / "proto")) for p in (REPO / "proto").rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", *sources],
        cwd=REPO,
        check=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*_pb2.py*"))
    assert generated, "protoc generated nothing"
    stale = [str(p) for p in generated if (tmp_path / p).read_bytes() != (REPO / p).read_bytes()]
    assert not stale, f"stale generated code, run `make proto`: {stale}"
    committed = sorted(p.relative_to(REPO) for p in (REPO / "gnn_assets" / "proto").glob("*_pb2.py*"))
    assert committed == generated, "gnn_assets/proto holds generated files that proto/ does not produce"
