"""The test suite: ``test_*`` modules, pytest fixtures in ``conftest``, shared helper modules.

Test modules never import each other (``test_architecture_tests`` checks it); what several of
them use lives in a helper module. Their ``assert`` statements are rewritten like those in test
modules, so a failing helper reports the values it compared.
"""

import pytest

pytest.register_assert_rewrite(
    "tests.chat", "tests.cli", "tests.console_fixtures", "tests.factories", "tests.harness"
)
