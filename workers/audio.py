"""RQ jobs that render audio off the web's path; the web re-reads the manifest when it changes.

`render_tasks` renders a batch that `hotline audio build --rq` planned (many batches run on many
workers at once) and merges its entries into the manifest itself, under the manifest's file
lock, so the line plays them as soon as each batch is done. `rebuild` plans and renders
everything that changed, from the content files as they are on disk now: enqueue it after an edit
(`queue_rebuild`). Workers must see the same `audio_cache/` folder as the web (same machine, or
shared storage). The queue is `hotline`, the one `hotline run` and the Procfile's worker serve.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import redis
from rq import Worker
from rq.job import Job, JobStatus

from hotline import settings as hotline_settings
from hotline.audio.build import Executor, Result, Task, build, run_task, update_manifest
from hotline.audio.config import AudioConfig, load_audio_config, make_engines
from hotline.content.ivr import load_content
from hotline.services import QUEUE, enqueue, job_queue

BATCHES_PER_WORKER = 4  # enough to share the work out; few enough that forking stays cheap
MAX_BATCH = 32
SECONDS_PER_PROMPT = 60  # the job timeout: generous, for gTTS's throttle and backoff


def render_tasks(audio_root: str, audio_config: AudioConfig, tasks: list[Task]) -> list[Result]:
    """Render `tasks` into `audio_root` and list them in its manifest; returns their results."""
    root = Path(audio_root)
    engines = make_engines(audio_config, root)
    results = [run_task(task, root, engines) for task in tasks]
    update_manifest(root, {r.prompt.id: r.entry for r in results
                           if r.entry is not None or not r.errors})
    return results


def rebuild(content_root: str | None = None, audio_root: str | None = None,
            langs: list[str] | None = None, offline: bool = False) -> list[str]:
    """Render whatever the content on disk needs (default roots: this worker's environment);
    returns the build's account, line by line."""
    settings = hotline_settings.from_environment_or_exit()
    content = load_content(content_root or settings.content_root)
    report = build(content, Path(audio_root or settings.audio_root),
                   load_audio_config(content.root), langs=langs, offline=offline,
                   times=settings.opening_times())
    return report.lines()


def queue_rebuild(connection: redis.Redis, content_root: str | None = None,
                  audio_root: str | None = None, langs: list[str] | None = None) -> Job:
    """Enqueue `rebuild` (for example after a prompt was edited)."""
    return enqueue(
        connection, rebuild, content_root, audio_root, langs, job_timeout=3600, result_ttl=86400,
        description="audio rebuild")


def rq_executor(connection: redis.Redis, audio_root: Path, audio_config: AudioConfig, *,
                poll: float = 0.2) -> Executor:
    """An executor for `hotline.audio.build.build` that sends batches to RQ workers and yields
    each result as its batch finishes. Raises RuntimeError when no worker serves the queue."""

    def execute(tasks: list[Task]) -> Iterator[Result]:
        queue = job_queue(connection)
        workers = Worker.count(connection=connection, queue=queue)
        if not workers:
            raise RuntimeError(f"no RQ worker serves the {QUEUE!r} queue: start `hotline run`, "
                               f"or `rq worker --url $REDIS_URL {QUEUE}`")
        batch = min(MAX_BATCH, max(1, -(-len(tasks) // (workers * BATCHES_PER_WORKER))))
        pending: dict[str, tuple[Job, list[Task]]] = {}
        for i in range(0, len(tasks), batch):
            chunk = tasks[i:i + batch]
            job = queue.enqueue(
                render_tasks, str(audio_root), audio_config, chunk,
                job_timeout=60 + SECONDS_PER_PROMPT * len(chunk), result_ttl=3600,
                failure_ttl=86400, description=f"audio: render {len(chunk)} prompts")
            pending[job.id] = (job, chunk)
        while pending:
            for job_id, (job, chunk) in list(pending.items()):
                status = job.get_status(refresh=True)
                if status == JobStatus.FINISHED:
                    del pending[job_id]
                    yield from job.return_value(refresh=True) or []
                elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                    del pending[job_id]
                    for task in chunk:
                        yield Result(task.prompt, None,
                                     errors=(f"RQ job {job_id} {status.value}",))
            if pending:
                time.sleep(poll)

    return execute
