// libsagaflow.so is made of the static libraries' objects (cmake/Install.cmake); a shared
// library target needs at least one source of its own.
namespace sagaflow {
[[maybe_unused]] extern const char kSharedLibrary[] = "libsagaflow";
}  // namespace sagaflow
