from __future__ import annotations

from django import template

from webmail.queue_stats import QueueStats, queue_stats

register = template.Library()


@register.simple_tag
def celery_queue() -> QueueStats:
    return queue_stats()
