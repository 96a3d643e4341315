"""The whole platform in one test process: the four services on a fresh vhost and database."""

import mailbox

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.cases.service import CasesService
from services.intake.service import IntakeService
from services.referrals.service import ReferralsService
from services.reporting.service import ReportingService
from tests.helpers import TEST_ACTOR_KEY, TEST_MASTER_KEY

SERVICES = (IntakeService, CasesService, ReferralsService, ReportingService)


@pytest.fixture
def maildir(tmp_path):
    """The cell's mailbox, as a mail server delivers to it."""
    path = tmp_path / "Maildir"
    mailbox.Maildir(path, create=True)
    return path


@pytest.fixture
def platform_config(rabbit_config, mongo_uri, db_name, database, maildir):
    return {
        **rabbit_config,
        "ACTOR_TOKEN_KEY": TEST_ACTOR_KEY,
        "MASTER_KEY": TEST_MASTER_KEY,
        "MAILDIR": str(maildir),
        "MAIL_PLATFORM": "SG",
        # By name, as in production: resolution goes through the monkey-patched resolver.
        "MONGO_URI": mongo_uri.replace("127.0.0.1", "localhost"),
        "MONGO_DB": db_name,
        "CATCH_UP_INTERVAL": 0.05,
    }


@pytest.fixture
def platform(runner_factory, platform_config):
    runner = runner_factory(platform_config, *SERVICES)
    runner.start()
    return runner


@pytest.fixture
def cluster(platform, platform_config):
    with ClusterRpcProxy(platform_config, timeout=30) as proxy:
        yield proxy
