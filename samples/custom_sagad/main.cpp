// A team's own sagad: link the library, register your workflows, call RunDaemon.
// Built against the public headers only. Run it like the stock sagad (--help).
#include "sagaflow/daemon.hpp"
#include "sagaflow/workflow/workflow.hpp"

int main(int argc, char** argv) {
    using std::chrono::seconds;
    sagaflow::WorkflowRegistry registry;
    registry.Add(sagaflow::WorkflowBuilder("account_opening", 1)
                     .Step("create_customer", "crm").CompensateWith("delete_customer")
                     .Step("open_account", "core_banking").CompensateWith("close_account")
                     .Timeout(seconds(20))
                     .Step("send_welcome", "mail")  // no compensation: an email cannot be unsent
                     .Build());
    return sagaflow::RunDaemon(argc, argv, registry);
}
