"""Deprecated: the settings moved to :mod:`cardagent.settings` and :mod:`cardagent.assurance`.

Kept only so modules not yet switched still import; new code imports from those modules.
"""

from cardagent.assurance import (  # noqa: F401 - re-exports
    FAMILY_EID,
    FAMILY_LEGACY,
    TEST_POLICY_OIDS,
    AssuranceMapping,
    AssuranceRule,
)
from cardagent.settings import (  # noqa: F401 - re-exports
    DEFAULT_HOST,
    DEFAULT_PORT,
    ConfigError,
    OrderSettings,
    ProbeSettings,
    Settings,
    UpgradeSettings,
    default_data_dir,
    default_module_path,
    is_loopback,
    load_settings,
)
