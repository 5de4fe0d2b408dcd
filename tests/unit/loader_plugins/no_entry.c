/* A shared library that is not an osago plugin: no entry symbol. */
int osago_test_not_a_plugin(void);
int osago_test_not_a_plugin(void) { return 42; }
