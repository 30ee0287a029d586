*** Settings ***
Documentation       Acceptance suites for Control Plane + agent container-streaming platforms.
...
...                 The environment is chosen with one variable file (``local`` by default: the
...                 reference stack on this machine). It is started once for the whole run here and
...                 stopped at the end, also when tests fail or the run is interrupted.
Library             EnvironmentKit
Variables           ../variables/defaults.yaml

Suite Setup         Start Test Environment    ${ENVIRONMENT}
Suite Teardown      Stop Test Environment
