// One order service as a process; which one, the build says (SAMPLE_SERVICE).
#include "service.hpp"

int main(int argc, char** argv) { return sample::RunService(argc, argv, SAMPLE_SERVICE); }
