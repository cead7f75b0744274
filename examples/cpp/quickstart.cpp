// The product's side in C++17, through bindings/cpp/tessera.hpp:
//   quickstart VENDOR_PUBLIC_KEY LICENSE_FILE STATE_DIR
#include <tessera.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

static std::string slurp(const char *path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(std::string("cannot read ") + path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " VENDOR_PUBLIC_KEY LICENSE_FILE STATE_DIR\n";
        return 2;
    }
    try {
        std::cout << "tessera " << tessera::version() << "\n";
        tessera::config cfg("acme-cad");
        // Every product builds in a vendor secret of its own, at least 16 bytes.
        cfg.add_public_key(slurp(argv[1])).secret("example vendor secret, not a real one").store_dir(argv[3]);
        std::cout << "this device: " << cfg.fingerprint() << "\n";

        tessera::activate(cfg, slurp(argv[2]));
        tessera::handle license(cfg);
        auto report = license.validate();
        std::cout << "status: " << tessera::status_name(report.status) << "\n";
        for (const auto &why : report.reasons) std::cout << "why: " << why << "\n";
        if (report.valid_until) {
            auto left = std::chrono::duration_cast<std::chrono::hours>(*report.valid_until -
                                                                       report.checked_at);
            std::cout << "days left: " << left.count() / 24 << "\n";
        }
        std::cout << "pdf-export: "
                  << (license.feature("pdf-export").enabled() ? "enabled" : "not available") << "\n";
        return report.usable() ? 0 : 3;
    } catch (const tessera::error &e) {
        std::cerr << "tessera: " << e.name() << ": " << e.what() << "\n";
        return 1;
    } catch (const std::exception &e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
}
