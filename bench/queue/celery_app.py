"""celery_app: the Celery side of bench/queue: one no-op task on the private
RabbitMQ the bench starts (BENCH_AMQP_URL), results over rpc://.

Run only with Debian's /usr/bin/python3 (python3-celery)."""
import os
import subprocess

from celery import Celery

app = Celery("weftbench", broker=os.environ["BENCH_AMQP_URL"], backend="rpc://")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_default_queue="weftbench",
)


@app.task
def noop():
    return None


@app.task
def run_true():
    """Like weft's step: fork and exec `true` (its unit of work in this bench)."""
    subprocess.run(["true"], check=True)
