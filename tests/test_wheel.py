"""A generated package builds as a wheel, installs, and runs from that install without ossgen."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from support import tiny_config

from ossgen.codegen.render import GenerationRequest, render_package
from ossgen.codegen.writer import write_files
from ossgen.schema.mesh import MeshConfig

# Runs in an isolated interpreter (`-I`: no working directory on sys.path) with
# `import ossgen` made to fail, so the package can only work on its own.
SMOKE_SCRIPT = """
import sys
sys.modules["ossgen"] = None
import jax.numpy as jnp
from flax import nnx
import wheel_smoke
from wheel_smoke import GptOssConfig, GptOssForCausalLM
model = GptOssForCausalLM(GptOssConfig(), rngs=nnx.Rngs(0))
logits = model(jnp.zeros((1, 12), jnp.int32)).logits
assert logits.shape == (1, 12, 128), logits.shape
print(wheel_smoke.__file__)
"""


def test_wheel_builds_installs_and_runs(tmp_path: Path) -> None:
    request = GenerationRequest(
        config=tiny_config(), mesh=MeshConfig(ep=2, num_devices=2), package_name="wheel_smoke",
        config_path="tiny.yaml", mesh_source="ep=2,num_devices=2", output_dir="out",
    )
    project = tmp_path / "wheel_smoke"
    write_files(render_package(request), project)
    dist = tmp_path / "dist"

    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(project)],
        check=True, capture_output=True, text=True,
    )
    wheels = list(dist.glob("wheel_smoke-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as archive:
        names = archive.namelist()
        metadata = archive.read(next(name for name in names if name.endswith("METADATA"))).decode()
    assert "wheel_smoke/py.typed" in names
    assert "Requires-Dist: jax==0.10.2" in metadata
    assert "Requires-Dist: flax==0.12.8" in metadata

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(wheels[0])],
        check=True, capture_output=True, text=True,
    )

    # `-I` also ignores PYTHONPATH, so the install folder goes on sys.path here.
    script = f"import sys; sys.path.insert(0, {str(target)!r})\n" + SMOKE_SCRIPT
    result = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(target))
