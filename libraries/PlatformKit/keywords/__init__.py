"""PlatformKit keyword classes, one per area of the contract."""

from PlatformKit.keywords.agents import AgentKeywords
from PlatformKit.keywords.auth import AuthKeywords
from PlatformKit.keywords.connection import ConnectionKeywords
from PlatformKit.keywords.protocol import ProtocolKeywords
from PlatformKit.keywords.records import PlatformRecordKeywords
from PlatformKit.keywords.sessions import SessionKeywords
from PlatformKit.keywords.templates import TemplateKeywords
from PlatformKit.keywords.users import UserKeywords
from PlatformKit.keywords.vnc import VncKeywords

__all__ = [
    "AgentKeywords",
    "AuthKeywords",
    "ConnectionKeywords",
    "PlatformRecordKeywords",
    "ProtocolKeywords",
    "SessionKeywords",
    "TemplateKeywords",
    "UserKeywords",
    "VncKeywords",
]
