// `sagactl graph`'s drawing: the shapes of each node kind and the saga's marks.
#include "graph_dot.hpp"

#include <gtest/gtest.h>

#include "order_fulfilment.hpp"

namespace sagaflow::sagad {
namespace {

bool Has(const std::string& dot, const std::string& part) { return dot.find(part) != std::string::npos; }

TEST(WorkflowDot, DrawsAChoiceAsADiamondAndAGroupAsAClusterBetweenBars) {
    const std::string dot = WorkflowDot(workflows::OrderFulfilmentV2(), nullptr);
    for (const char* part : {"\"amount_check\" [shape=diamond", "subgraph \"cluster_ship_and_invoice\"",
                             "\"amount_check\" -> \"fraud_check\" [label=\"large_order\"]",
                             "\"amount_check\" -> \"charge_payment\" [label=\"otherwise\"]",
                             "\"charge_payment\" -> \"ship_and_invoice:fork\";",
                             "\"ship_and_invoice:fork\" -> \"create_shipment\";",
                             "\"issue_invoice\" -> \"ship_and_invoice:join\";", "\"ship_and_invoice:join\" -> done;",
                             // the undo walk, from the Plan: the group's branches back to the payment
                             "\"undo:create_shipment\" -> \"undo:charge_payment\" [style=dashed]",
                             "\"undo:issue_invoice\" -> \"undo:charge_payment\" [style=dashed]",
                             "\"undo:charge_payment\" -> \"undo:reserve_inventory\" [style=dashed]",
                             "\"undo:reserve_inventory\" -> undone [style=dashed]",
                             "\"fraud_check\" -> \"undo:reserve_inventory\" [style=dotted, label=\"fail\"]"}) {
        EXPECT_TRUE(Has(dot, part)) << part << "\n" << dot;
    }
}

TEST(WorkflowDot, MarksTheSagaPathAndNodeStates) {
    const Workflow wf = workflows::OrderFulfilmentV2();
    SagaMarks m;
    m.title = "saga x: compensating";
    m.nodes["reserve_inventory"].state = engine::NodeState::kDone;
    m.nodes["amount_check"].state = engine::NodeState::kDone;
    m.nodes["fraud_check"].state = engine::NodeState::kSkipped;
    m.nodes["charge_payment"].state = engine::NodeState::kCompensated;
    m.nodes["ship_and_invoice"].state = engine::NodeState::kFailed;
    m.nodes["create_shipment"].state = engine::NodeState::kFailed;
    m.nodes["issue_invoice"].state = engine::NodeState::kCompensating;
    m.retries["create_shipment"] = 2;
    const std::string dot = WorkflowDot(wf, &m);
    for (const char* part : {"label=\"saga x: compensating\"", "\"fraud_check\" [label=\"fraud_check\\n(risk)\", fontcolor=grey",
                             "\"create_shipment\" [label=\"create_shipment\\n(logistics)\\nretries: 2\", style=\"filled\", fillcolor=salmon",
                             "\"undo:charge_payment\" [label=\"refund_payment\", style=\"dashed,filled\", fillcolor=lightblue",
                             "\"undo:issue_invoice\" [label=\"void_invoice\", style=\"dashed\", penwidth=3",
                             "\"amount_check\" -> \"charge_payment\" [label=\"otherwise\", color=blue, penwidth=2]",
                             "\"create_shipment\" -> \"undo:charge_payment\" [style=dotted, label=\"fail\", color=red"}) {
        EXPECT_TRUE(Has(dot, part)) << part << "\n" << dot;
    }
    EXPECT_FALSE(Has(dot, "\"amount_check\" -> \"fraud_check\" [label=\"large_order\", color=blue")) << "not taken";
}

TEST(WorkflowDot, ALinearWorkflowIsAChainOfBoxes) {
    const std::string dot = WorkflowDot(workflows::OrderFulfilment(), nullptr);
    EXPECT_TRUE(Has(dot, "start -> \"reserve_inventory\";"));
    EXPECT_TRUE(Has(dot, "\"reserve_inventory\" -> \"charge_payment\";"));
    EXPECT_TRUE(Has(dot, "\"create_shipment\" -> done;"));
    EXPECT_FALSE(Has(dot, "cluster"));
}

}  // namespace
}  // namespace sagaflow::sagad
