"""The event catalogue (DESIGN §4). Importing this package registers every type."""

from bmw.contracts.events import billing, intake, scheduling, signals
from bmw.contracts.events.base import EventData, all_event_types, event, event_class

__all__ = ["EventData", "all_event_types", "billing", "event", "event_class", "intake", "scheduling", "signals"]
