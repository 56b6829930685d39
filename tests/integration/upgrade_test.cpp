// A database written by the release before the flow graph (tests/fixtures/v1_sagas.sql,
// made by make_v1_dump.sh from that release's own sagad) upgrades in place: migration 0003
// converts its sagas, running ones included, and the new engine runs every one to its end.
#include <fstream>
#include <sstream>

#include "engine.hpp"
#include "fake_worker.hpp"
#include "migrate.hpp"
#include "order_fulfilment.hpp"
#include "pg_cluster.hpp"
#include "pg_saga_store.hpp"

namespace sagaflow::testing {
namespace {

using engine::NodeState;

std::string ReadFixture() {
    std::ifstream in(SAGAFLOW_FIXTURES_DIR "/v1_sagas.sql");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

class Upgrade : public ::testing::Test {
protected:
    Upgrade() : probe_(PgEnvironment::cluster().dsn()) {
        db_ = "upgrade_" + NewUuid();
        std::erase(db_, '-');
        probe_.Exec("CREATE DATABASE " + db_);
        dsn_ = PgEnvironment::cluster().dsn() + " dbname=" + db_;
        pg::Connection loader(dsn_);
        const std::string fixture = ReadFixture();
        EXPECT_FALSE(fixture.empty()) << "no fixture at " SAGAFLOW_FIXTURES_DIR;
        loader.Exec(fixture);
        loader.Exec("SET search_path = public");
    }
    ~Upgrade() override {
        store_.reset();
        probe_.Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    }
    engine::SagaRecord ByKey(engine::StoreTx& tx, const std::string& key) {
        auto id = tx.FindByBusinessKey(workflows::kOrderFulfilment, BusinessKey(key));
        EXPECT_TRUE(id) << key;
        return *tx.GetSaga(*id);
    }

    pg::Connection probe_;
    std::string db_, dsn_;
    std::unique_ptr<store::PgSagaStore> store_;
};

TEST_F(Upgrade, SagasWrittenBeforeTheFlowGraphMigrateInPlaceAndFinish) {
    {
        pg::Connection c(dsn_);
        ASSERT_EQ(c.Exec("SELECT max(version) FROM schema_migrations").Int(0, 0), 2) << "a dump of the old schema";
        ASSERT_EQ(c.Exec("SELECT count(*) FROM sagas WHERE state_code IN (1, 2)").Int(0, 0), 6);
        const pg::MigrateResult m = pg::Migrate(c);
        EXPECT_EQ(m.from_version, 2);
        EXPECT_EQ(m.applied, pg::LatestMigrationVersion() - 2);
        EXPECT_EQ(c.Exec("SELECT count(*) FROM saga_pending").Int(0, 0), 6) << "every pending command, same msg ids";
    }
    store_ = std::make_unique<store::PgSagaStore>(store::PgStoreOptions{dsn_, "", 2, {}});
    {
        auto tx = store_->Begin();
        const auto ship = ByKey(*tx, "ship-1");  // running at its third step
        EXPECT_EQ(ship.status, SagaStatus::kRunning);
        EXPECT_EQ(ship.nodes.at("reserve_inventory"), (engine::NodeStatus{NodeState::kDone, 1, false, false}));
        EXPECT_EQ(ship.nodes.at("charge_payment").state, NodeState::kDone);
        EXPECT_EQ(ship.nodes.at("create_shipment").state, NodeState::kRunning);
        const auto undo = ByKey(*tx, "ship-3");  // compensating, its refund pending
        EXPECT_EQ(undo.status, SagaStatus::kCompensating);
        EXPECT_EQ(undo.nodes.at("charge_payment").state, NodeState::kCompensating);
        EXPECT_EQ(undo.nodes.at("create_shipment").state, NodeState::kPending) << "withdrawn: it never ran";
        const auto stuck = ByKey(*tx, "blocked-1");  // failed: its refund could not finish
        EXPECT_EQ(stuck.status, SagaStatus::kFailed);
        EXPECT_TRUE(stuck.nodes.at("charge_payment").stuck);
        EXPECT_EQ(stuck.nodes.at("create_shipment").state, NodeState::kFailed);
        const auto done = ByKey(*tx, "done-1");
        EXPECT_EQ(done.status, SagaStatus::kCompleted);
        const auto history = tx->History(done.id);
        ASSERT_FALSE(history.empty()) << "the old history is kept";
        EXPECT_EQ(history.front().kind, "started");
        bool named = false;
        for (const auto& e : history) named = named || e.node == "create_shipment";
        EXPECT_TRUE(named) << "old events name their step's node";
        EXPECT_FALSE(engine::AttemptsFrom(history).empty());
    }

    WorkflowRegistry registry;
    workflows::RegisterAll(registry);
    ManualClock clock;
    FakeWorker worker;
    engine::Engine engine(registry, *store_, worker, clock);
    worker.Attach(engine, registry);
    EXPECT_EQ(engine.Recover(), 6);
    EXPECT_TRUE(engine.unregistered().empty());
    auto run = [&] {
        for (int round = 0; round < 200; ++round) {
            if (engine.Tick() + worker.Pump(engine) > 0) continue;
            const auto next = engine.NextWakeup();
            if (!next) return;
            clock.Set(std::max(*next, clock.Now()));
        }
        ADD_FAILURE() << "still busy";
    };
    run();
    auto tx = store_->Begin();
    for (const char* key : {"ship-1", "ship-2", "pay-1", "pay-2", "reserve-1", "done-1", "done-2"}) {
        const auto s = ByKey(*tx, key);
        EXPECT_EQ(s.status, SagaStatus::kCompleted) << key;
        EXPECT_EQ(s.workflow_version, 1) << key << " stays on the graph it started on";
    }
    EXPECT_EQ(ByKey(*tx, "ship-3").status, SagaStatus::kCompensated);
    EXPECT_EQ(ByKey(*tx, "declined-1").status, SagaStatus::kCompensated);
    const SagaId stuck = ByKey(*tx, "blocked-1").id;
    tx.reset();
    ASSERT_TRUE(engine.Retry(stuck).ok()) << "the operator unblocked the account";
    run();
    tx = store_->Begin();
    EXPECT_EQ(tx->GetSaga(stuck)->status, SagaStatus::kCompensated);
    EXPECT_TRUE(tx->PendingWork(100).empty());
    EXPECT_EQ(worker.effects(ByKey(*tx, "ship-1").id, 2, Phase::kForward), 1) << "the shipment ran once, as step 2";
}

}  // namespace
}  // namespace sagaflow::testing
