/* A shared object that is not a reclaimd plugin: no reclaim_plugin. */
int not_a_plugin(void);

/* Something to export. */
int not_a_plugin(void)
{
	return 42;
}
