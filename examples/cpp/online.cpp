// The whole online loop in C++, as examples/online.rs does it in Rust:
// activate, take a floating seat, consume and upload exactly once, borrow,
// keep working while the server is away, sync when it is back, deactivate.
//
//   online URL PRODUCT PRODUCT_KEY_HEX LICENSE_KEY VENDOR_PUBLIC_KEY STATE_DIR
//
// URL is the license server (tessera-server); PRODUCT_KEY_HEX the
// product's shared key from its admin API, in hex. At step 6 it asks you
// to stop the server and at step 7 to start it again
// (tests/online/harness.py answers both in the test command). Every call
// on the connection blocks until the server answers or its deadline
// passes; a real product makes them off its UI thread.
#include <tessera.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

void step(const std::string &text) { std::cout << "\n== " << text << std::endl; }

std::string from_hex(const std::string &hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

std::string slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 7) {
        std::cerr << "usage: " << argv[0]
                  << " URL PRODUCT PRODUCT_KEY_HEX LICENSE_KEY VENDOR_PUBLIC_KEY STATE_DIR\n";
        return 2;
    }
    try {
        tessera::config cfg(argv[2]);
        // The product's vendor secret: its own, built in, at least 16 bytes.
        cfg.add_public_key(slurp(argv[5])).store_dir(argv[6]).secret(
            "example vendor secret, not a real one");
        tessera::server srv(argv[1], from_hex(argv[3]));
        srv.limits(std::chrono::seconds(10), std::chrono::seconds(30), 2,
                   std::chrono::milliseconds(50));
        tessera::connection conn(cfg, srv);

        step("1. Activate online by license key");
        conn.activate(argv[4]);
        tessera::handle lic(cfg);
        std::cout << "activated " << lic.license_id()
                  << "; before a seat: " << tessera::status_name(lic.check()) << "\n";

        step("2. Take a floating seat (a heartbeat thread keeps it)");
        {
            tessera::session seat(conn, lic);
            auto lease = seat.beat();
            std::cout << "seat held for "
                      << std::chrono::duration_cast<std::chrono::minutes>(lease.time_left +
                                                                          std::chrono::seconds(30))
                             .count()
                      << " minutes: " << tessera::status_name(lic.check()) << "\n";

            step("3. Consume 3 renders and upload them (exactly once)");
            auto used = lic.consume("render", 3);
            auto first = conn.upload_consumption(lic);
            auto again = conn.upload_consumption(lic);
            std::cout << "used " << used.used << " of " << used.limit.value_or(0) << "; uploaded "
                      << first.sent << " record(s), then " << again.sent << "\n";
            seat.close();
        }

        step("4. The seat is back; borrow one for 8 hours, to work offline");
        auto borrowed = conn.borrow(lic, 8);
        std::cout << "borrowed for "
                  << std::chrono::duration_cast<std::chrono::hours>(borrowed.time_left +
                                                                    std::chrono::minutes(30))
                         .count()
                  << " hours: " << tessera::status_name(lic.check()) << "\n";

        step("5. Keep the license in sync from a background thread (status changes print here)");
        tessera::auto_sync keeper(
            conn, lic,
            [](const tessera::status_change &c) {
                std::cout << "   status " << tessera::status_name(c.old_status) << " -> "
                          << tessera::status_name(c.new_status) << ": " << c.reason << std::endl;
            },
            false, std::chrono::seconds(1));

        step("6. Offline: stop the server, then press Enter");
        std::string line;
        std::getline(std::cin, line);
        std::cout << "check: " << tessera::status_name(lic.check()) << "\n";
        lic.consume("render", 2);
        try {
            conn.check_in();
            std::cerr << "a check-in succeeded with the server down\n";
            return 1;
        } catch (const tessera::error &e) {
            if (e.code() != TESSERA_ERR_NETWORK) throw;
            std::cout << "check-in: " << e.name() << " (the license keeps working offline)\n";
        }

        step("7. Back online: start the server, then press Enter");
        std::getline(std::cin, line);
        conn.sync(lic);
        std::cout << "synced (the 2 renders went up): " << tessera::status_name(lic.check())
                  << "\n";

        step("8. Return the borrowed seat and deactivate");
        auto [syncs, failures, last] = keeper.record();
        (void)last;
        std::cout << "the auto-sync made " << syncs << " sync(s) and saw " << failures
                  << " failure(s)\n";
        conn.return_borrow(lic);
        conn.deactivate();
        std::cout << "deactivated\n";
    } catch (const tessera::error &e) {
        std::cerr << "failed: " << e.name() << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
