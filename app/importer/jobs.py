"""Import jobs for the API: a row with the state and outcome, and a worker
thread per large job (small files are imported within the request)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth.principal import Principal
from app.catalogue.loader import Catalogue
from app.clock import utcnow
from app.config import Settings
from app.db import transaction
from app.errors import NotFound
from app.importer.service import CallerScope, Importer, ImportReport
from app.models import ImportJob
from app.security.keyring import Keyring

log = logging.getLogger("isu.import")

SYNC_MAX_LINES = 100
"""Files with at most this many lines are imported within the request."""
PROGRESS_EVERY = 1


@dataclass
class ImportRunner:
    """Background threads of this process, one per large import job."""

    threads: dict[uuid.UUID, threading.Thread] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, job_id: uuid.UUID, work: Callable[[], None]) -> None:
        thread = threading.Thread(target=work, name=f"import-{job_id.hex[:8]}", daemon=True)
        with self.lock:
            self.threads[job_id] = thread
        thread.start()

    def join(self, job_id: uuid.UUID, timeout: float | None = None) -> bool:
        """Wait for a job's thread; True when it has finished."""
        with self.lock:
            thread = self.threads.get(job_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


INTERRUPTED = {
    "line": 0,
    "pointer": "",
    "code": "interrupted",
    "detail": "Importen avbröts när tjänsten stoppades. En del ärenden kan ha sparats; "
    "skicka filen igen, redan importerade ärenden känns igen och dubbleras inte.",
    "detail_en": "The import was interrupted when the service stopped. Some cases may have "
    "been saved; send the file again, cases already imported are recognised, not duplicated.",
}


def fail_interrupted_jobs(session: Session) -> int:
    """Mark jobs left ``queued`` or ``running`` by a stopped process as ``failed``.

    A job's lines live only in the memory of the process that ran it, so such a
    job can never finish. Called at start (:func:`app.main.create_app`); returns
    how many jobs were marked. The caller commits.
    """
    result = session.execute(
        update(ImportJob)
        .where(ImportJob.state.in_(("queued", "running")))
        .values(state="failed", finished_at=utcnow(), errors=[INTERRUPTED])
        .execution_options(synchronize_session=False)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count:
        log.warning("import_jobs_interrupted", extra={"jobs": count})
    return count


def create_job(
    session: Session, principal: Principal, *, lines: int, skip_invalid: bool
) -> ImportJob:
    job = ImportJob(
        id=uuid.uuid4(),
        municipality_code=principal.municipality_code or "",
        created_by_id=principal.user_id,
        state="queued",
        skip_invalid=skip_invalid,
        lines=lines,
        invalid=0,
        created=0,
        unchanged=0,
        errors=[],
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, principal: Principal, job_id: uuid.UUID) -> ImportJob:
    """A job the caller may see: their municipality's (coordinator) or their
    own (caseworker); anything else is indistinguishable from a missing one."""
    query = select(ImportJob).where(
        ImportJob.id == job_id, ImportJob.municipality_code == principal.municipality_code
    )
    if principal.role != "coordinator":
        query = query.where(ImportJob.created_by_id == principal.user_id)
    job = session.scalar(query)
    if job is None:
        raise NotFound()
    return job


def job_dict(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state,
        "municipality_code": job.municipality_code,
        "skip_invalid": job.skip_invalid,
        "lines": job.lines,
        "invalid": job.invalid,
        "created": job.created,
        "unchanged": job.unchanged,
        "errors": list(job.errors),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@dataclass
class JobWork:
    """Everything a job needs, captured from the request that submitted it."""

    job_id: uuid.UUID
    lines: list[str]
    principal: Principal
    factory: sessionmaker[Session]
    read_factory: sessionmaker[Session]
    catalogue: Catalogue
    keyring: Keyring
    settings: Settings
    line_model: Any
    skip_invalid: bool
    atomic: bool

    def _update(self, **values: Any) -> None:
        with transaction(self.factory) as session:
            job = session.get(ImportJob, self.job_id)
            if job is not None:
                for key, value in values.items():
                    setattr(job, key, value)

    def __call__(self) -> None:
        self._update(state="running")
        importer = Importer(
            factory=self.factory,
            read_factory=self.read_factory,
            catalogue=self.catalogue,
            keyring=self.keyring,
            settings=self.settings,
            scope=CallerScope(self.principal),
            line_model=self.line_model,
            skip_invalid=self.skip_invalid,
            request_id=f"import:{self.job_id.hex}",
            atomic=self.atomic,
        )
        try:
            report = importer.run(lambda: self.lines)
        except Exception as exc:
            # The type only: an exception text may quote stored values.
            log.error(
                "import_failed", extra={"job": str(self.job_id), "error_type": type(exc).__name__}
            )
            self._update(
                state="failed",
                finished_at=utcnow(),
                errors=[
                    {
                        "line": 0,
                        "pointer": "",
                        "code": "internal",
                        "detail": "Ett oväntat fel avbröt importen.",
                        "detail_en": "An unexpected error stopped the import.",
                    }
                ],
            )
            return
        finally:
            self.lines = []
        self.finish(report)

    def finish(self, report: ImportReport) -> None:
        self._update(
            state=report.state,
            invalid=report.invalid,
            created=report.created,
            unchanged=report.unchanged,
            errors=[e.as_json() for e in report.errors],
            finished_at=utcnow(),
        )
        log.info(
            "import_finished",
            extra={
                "job": str(self.job_id),
                "state": report.state,
                "cases_created": report.created,
                "cases_unchanged": report.unchanged,
                "lines_invalid": report.invalid,
            },
        )
