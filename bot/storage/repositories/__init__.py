"""One repository per aggregate; all of one unit of work share its session (see `bot.storage.db.UnitOfWork`)."""

from bot.storage.repositories.activity import FollowUpRepository, IdeaRepository
from bot.storage.repositories.audit import AuditRepository
from bot.storage.repositories.campaigns import CampaignRepository
from bot.storage.repositories.citizens import (
    CitizenRepository,
    ContactRepository,
    ConversationRepository,
    OptInRepository,
)
from bot.storage.repositories.feedback import FeedbackRepository
from bot.storage.repositories.messaging import ChannelStateRepository, InboxRepository, OutboxRepository
from bot.storage.repositories.surveys import ResponseRepository, SurveyRepository

__all__ = [
    "AuditRepository",
    "CampaignRepository",
    "ChannelStateRepository",
    "CitizenRepository",
    "ContactRepository",
    "ConversationRepository",
    "FeedbackRepository",
    "FollowUpRepository",
    "IdeaRepository",
    "InboxRepository",
    "OptInRepository",
    "OutboxRepository",
    "ResponseRepository",
    "SurveyRepository",
]
