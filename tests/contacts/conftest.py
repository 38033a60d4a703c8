"""Fixtures of the contacts tests: the job tests' committed database and
job settings serve the import and export jobs too."""

from tests.jobs.conftest import database, job_settings

__all__ = ["database", "job_settings"]
