*** Settings ***
Documentation       "A Refusal Should Say No Agent Is Available" (resources/ha.resource) on answers a replica
...                 may give without Redis: the contract's 503 passes; a 503 without a JSON error, or one that
...                 does not say that no agent is available, fails naming the replica and the answer.

Resource            ../../resources/ha.resource


*** Test Cases ***
The Contract's Refusal Passes
    [Documentation]    ``No agents available`` with its message.
    VAR    &{answer: str} =    error=No agents available    message=no online kubernetes agent
    A Refusal Should Say No Agent Is Available    ${answer}    api-2

A Refusal Without A JSON Error Fails
    [Documentation]    An empty body (or HTML) is no clean refusal.
    Run Keyword And Expect Error    api-2 refused the session with 503 but no JSON error: {}
    ...    A Refusal Should Say No Agent Is Available    ${{{}}}    api-2

A Refusal That Does Not Say Why Fails
    [Documentation]    A 503 whose error says nothing of agents is not the contract's refusal.
    VAR    &{answer: str} =    error=Internal error
    Run Keyword And Expect Error    GLOB:api-2 refused the session with 503 without saying that no agent is available*
    ...    A Refusal Should Say No Agent Is Available    ${answer}    api-2
