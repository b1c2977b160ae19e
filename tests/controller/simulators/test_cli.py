"""The simulators' command lines: an option per field of their config, read back into it."""

from __future__ import annotations

import argparse

import pytest

from fenix.simulators.cli import add_config_options, config_from
from fenix.simulators.cloud import SimulatedCloudConfig
from fenix.simulators.kubernetes.cluster import SimClusterConfig


def test_each_field_is_an_option_of_its_type_and_default():
    parser = argparse.ArgumentParser()
    add_config_options(parser, SimulatedCloudConfig)

    assert config_from(parser.parse_args([]), SimulatedCloudConfig) == SimulatedCloudConfig()
    config = config_from(
        parser.parse_args(["--hosts", "7", "--migrate-seconds", "0.5"]), SimulatedCloudConfig
    )
    assert (config.hosts, config.migrate_seconds) == (7, 0.5)
    with pytest.raises(SystemExit):
        parser.parse_args(["--hosts", "seven"])


def test_skipped_fields_keep_the_options_the_caller_made_for_them():
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", default=None)
    add_config_options(parser, SimClusterConfig, skip=("token", "workloads"))

    config = config_from(parser.parse_args(["--token", "secret"]), SimClusterConfig)

    assert config.token == "secret"
    assert config.workloads == SimClusterConfig().workloads  # no option: the default
