"""Shared fixtures: eight fake CPU devices and generated packages.

XLA reads its flags when JAX starts its CPU backend, so the device count is set
here, before any test module imports jax.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402

from support import generate_and_import  # noqa: E402

from ossgen.schema.config import GptOssConfig  # noqa: E402
from ossgen.schema.mesh import MeshConfig  # noqa: E402


@pytest.fixture(scope="session")
def package_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """Return a function that generates and imports a package once per name."""
    root = tmp_path_factory.mktemp("generated")
    cache: dict[str, Any] = {}

    def factory(config: GptOssConfig, name: str, mesh: MeshConfig | None = None) -> Any:
        if name not in cache:
            cache[name] = generate_and_import(config, mesh or MeshConfig(), name, root)
        return cache[name]

    return factory
