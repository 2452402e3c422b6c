"""The bundle tests use the shared-record fixtures (a project with the library published)."""

from tests.entities.conftest import field

__all__ = ["field"]
