"""KubeKit's keyword classes, one per area."""

from KubeKit.keywords.connection import ConnectionKeywords
from KubeKit.keywords.deployments import DeploymentKeywords
from KubeKit.keywords.events import EventKeywords
from KubeKit.keywords.leases import LeaseKeywords
from KubeKit.keywords.namespaces import NamespaceKeywords
from KubeKit.keywords.network import NetworkKeywords
from KubeKit.keywords.objects import ObjectKeywords
from KubeKit.keywords.pods import PodKeywords

__all__ = [
    "ConnectionKeywords",
    "DeploymentKeywords",
    "EventKeywords",
    "LeaseKeywords",
    "NamespaceKeywords",
    "NetworkKeywords",
    "ObjectKeywords",
    "PodKeywords",
]
