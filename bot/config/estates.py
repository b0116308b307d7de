"""The config as the stages' rules see it: frozen values of bot.core, built once by the
composition root, so that bot.core never imports the config's models."""

from __future__ import annotations

from bot.config.models import Config
from bot.core.access import AccessRules
from bot.core.deploy.approvals import Policy
from bot.core.deploy.estate import Deployable, Environment, Estate
from bot.core.deploy.model import HealthTimings, Target
from bot.core.operate.model import AutoscalePolicy, Fleet, Placement
from bot.core.ship.watching import ShipService, ShipSettings


def deploy_estate(config: Config) -> Estate:
    """Where every service deploys and what every environment demands."""
    environments = {
        name: Environment(
            name=name,
            policy=Policy(env.approvals, tuple(env.approvers), env.approval_timeout_minutes),
            protected=env.protected,
            approval_channel=env.approval_channel,
        )
        for name, env in config.environments.items()
    }
    services = {}
    for name, service in config.services.items():
        targets = {}
        if service.port is not None:
            targets = {
                env: Target(
                    service=name,
                    env=env,
                    image=service.image,
                    kind=settings.target,
                    port=service.port,
                    health=service.health.path,
                    publish=settings.publish_port,
                    replicas=settings.replicas,
                    publish_host=settings.publish_host,
                    publish_mode=settings.publish_mode,
                    autoscale_max=settings.autoscale.max if settings.autoscale else None,
                    probe=HealthTimings(
                        start_period=service.health.start_period,
                        interval=service.health.interval,
                        timeout=service.health.timeout,
                        retries=service.health.retries,
                    ),
                )
                for env, settings in service.deploy.items()
            }
        services[name] = Deployable(
            name=name, repo=service.repo, environments=tuple(service.deploy), targets=targets
        )
    return Estate(
        ops_channel=config.slack.ops_channel, services=services, environments=environments
    )


def access_rules(config: Config) -> AccessRules:
    """The access section: roles and the roles each verb needs."""
    return AccessRules(roles=dict(config.access.roles), verbs=dict(config.access.verbs))


def operate_fleet(config: Config) -> Fleet:
    """Where every service runs, its replica bound and autoscale policy, for Operate."""
    estate = deploy_estate(config)
    placements = {}
    for name, service in config.services.items():
        for env, settings in service.deploy.items():
            scale = settings.autoscale
            policy = (
                AutoscalePolicy(scale.min, scale.max, scale.cpu, scale.memory, scale.window)
                if scale is not None
                else None
            )
            placements[(name, env)] = Placement(
                service=name,
                env=env,
                kind=settings.target,
                image=service.image,
                replicas=settings.replicas,
                max_replicas=settings.max_replicas,
                autoscale=policy,
                target=estate.services[name].targets.get(env),
            )
    return Fleet(ops_channel=config.slack.ops_channel, placements=placements)


def ship_settings(config: Config) -> ShipSettings:
    """Every service as /ship runs it: its pipeline (services.<name>.pipeline, else every
    environment it deploys to in the order of `environments`), each environment's watch
    (the service's `watch`, else the environment's `pipeline_watch`) and its sample floor."""
    services = {}
    for name, service in config.services.items():
        pipeline = service.pipeline
        if pipeline is None:
            pipeline = tuple(env for env in config.environments if env in service.deploy)
        watch = tuple(
            (env, service.watch or config.environments[env].pipeline_watch) for env in pipeline
        )
        services[name] = ShipService(
            name=name, repo=service.repo, image=service.image, dockerfile=service.dockerfile,
            test=tuple(service.test), test_timeout=service.test_timeout,
            test_report=service.test_report, pipeline=tuple(pipeline), watch=watch,
            min_samples=service.watch_min_samples, check_interval=service.checks.interval,
        )  # fmt: skip
    return ShipSettings(ops_channel=config.slack.ops_channel, services=services)
