#include <cstdio>
int main() { std::puts("qsweep"); return 0; }
