// One C++ product on a relay's network (docs/RELAY.md), through the
// header-only wrapper: activates with the pool's key at the relay, takes a
// floating seat, checks the relay lease's feature, gives the seat back.
// scripts/c-tests.sh runs it under tests/online/harness.py.
//
//     relay_seat_cpp STATE_DIR
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tessera.hpp"

static std::string env(const char *name) {
    const char *v = std::getenv(name);
    if (!v) {
        std::cerr << "relay_seat_cpp: " << name << " is not set (run under tests/online/harness.py)\n";
        std::exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: relay_seat_cpp STATE_DIR\n";
        return 2;
    }
    try {
        std::ifstream pub_file(env("TESSERA_TEST_VENDOR_PUB"));
        std::stringstream pub;
        pub << pub_file.rdbuf();
        const std::string hex = env("TESSERA_TEST_PRODUCT_KEY_HEX");
        std::string key;
        for (size_t i = 0; i + 1 < hex.size(); i += 2)
            key.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
        tessera::config cfg{env("TESSERA_TEST_PRODUCT")};
        cfg.add_public_key(pub.str());
        cfg.store_dir(argv[1]);
        cfg.secret("test-only vendor secret, not a real one");
        cfg.custom_device_id("cpp-relay");
        // Only the server address changes: the relay's.
        tessera::server relay{env("TESSERA_TEST_RELAY"), key};
        tessera::connection conn{cfg, relay};
        conn.activate(env("TESSERA_TEST_POOL_KEY"));
        tessera::handle license{cfg};
        if (license.check() != TESSERA_STATUS_LEASE_REQUIRED) {
            std::cerr << "relay_seat_cpp: a floating license is usable without a seat\n";
            return 1;
        }
        conn.register_seat(license);
        if (license.check() != TESSERA_STATUS_VALID || !license.feature("render").enabled()) {
            std::cerr << "relay_seat_cpp: the relay's seat does not make the license usable\n";
            return 1;
        }
        conn.release();
        std::cout << "relay_seat_cpp: a seat taken and given back\n";
        return 0;
    } catch (const tessera::error &e) {
        std::cerr << "relay_seat_cpp: " << e.what() << "\n";
        return 1;
    }
}
